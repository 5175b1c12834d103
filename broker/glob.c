/* glob.c - the one pattern language of the routing config (cx_is_glob_match, config.h).
 *
 * Route matches (type, source, goal.category, milestone, attribute values) are
 * globs: '*' matches any run of characters, possibly empty; '?' matches exactly
 * one character; every other byte matches itself. There is no escaping and no
 * character class: ops write "goal.*" or "flights-*", nothing fancier.
 *
 * The one idea: iterative matching with a single backtrack point, the last '*'
 * seen. When a literal fails after a '*', that '*' swallows one more character
 * of the subject and matching resumes; an earlier '*' never needs revisiting
 * because the later one can absorb anything the earlier one could. So there is
 * no recursion, no allocation, and the worst case is O(len(glob) * len(s)) on a
 * pattern like "a*a*a*b", never exponential.
 *
 * A "character" for '?' and for the backtrack step is one UTF-8 sequence, so
 * "S?o Paulo" matches "São Paulo" and '*' never stops in the middle of a code
 * point. Invalid UTF-8 still terminates: a stray continuation byte counts as
 * one character of its own.
 */
#include <stdbool.h>
#include <string.h>

#include "config.h"

/* The start of the character after the one at s (*s != '\0'). */
static const char *s_next_char(const char *s)
{
    s++;
    while ((*(const unsigned char *)s & 0xC0u) == 0x80u)
        s++;
    return s;
}

bool cx_is_glob_match(const char *glob, const char *s)
{
    if (!glob) return true;
    /* An absent value is not the empty string: only "match anything" accepts it. */
    if (!s) return strcmp(glob, "*") == 0;

    const char *star = NULL;   /* the last '*' seen in glob */
    const char *resume = NULL; /* where in s that '*' stops swallowing */
    while (*s) {
        if (*glob == '*') {
            star = glob++;
            resume = s;
        } else if (*glob == '?') {
            glob++;
            s = s_next_char(s);
        } else if (*glob != '\0' && *glob == *s) {
            glob++;
            s++;
        } else if (star) {
            glob = star + 1;
            resume = s_next_char(resume);
            s = resume;
        } else {
            return false;
        }
    }
    while (*glob == '*')
        glob++;
    return *glob == '\0';
}
