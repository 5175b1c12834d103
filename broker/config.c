/* config.c - loads the broker's YAML configuration into a cx_config_t.
 *
 * What it is for: turning the file ops write into plain structs that the
 * router, store and delivery read without further checks, and, when the file
 * is wrong, saying exactly where (file:line:column, from libyaml's marks) and
 * what to change. Not for: watching the file or swapping snapshots; the broker
 * does that and keeps the running snapshot when a load fails.
 *
 * The one idea: libyaml composes the whole document into a node tree first
 * (yaml_parser_load); we then walk that tree against the grammar in config.h,
 * filling a cx_config_t that starts at the defaults. Every node keeps its start
 * mark, so each check points at the key or value it rejects. Every allocation
 * is owned by the config from the moment it is made, so cx_config_destroy() on
 * the half-built config is the whole cleanup on any error path.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "cx_error.h"
#include "cx_event.h"

#define CX_CONFIG_MAX_FILE (16u << 20) /* a config is a few KiB; refuse absurd files */
#define CX_CONFIG_ID_MAX 64
#define CX_CONFIG_MIN_MAP (1ull << 20)
#define CX_CONFIG_PATH_MAX 192 /* key paths in messages, "routes[3].where.goal..." */

static const char s_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* The walk's state: the document, the config being filled, where errors go. */
typedef struct {
    yaml_document_t *doc;
    cx_config_t *cfg;
    cx_config_error_t *err;
    const char *base; /* absolute folder for relative paths */
} loader_t;

/* ---- errors ---- */

static void s_set_error(cx_config_error_t *err, const char *file, int line, int column,
                        const char *fmt, va_list ap)
{
    snprintf(err->file, sizeof err->file, "%s", file ? file : "<string>");
    err->line = line;
    err->column = column;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

static int s_error(cx_config_error_t *err, const char *file, int line, int column, int code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int s_error(cx_config_error_t *err, const char *file, int line, int column, int code,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_set_error(err, file, line, column, fmt, ap);
    va_end(ap);
    return code;
}

static int s_fail(loader_t *self, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_fail(loader_t *self, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_set_error(self->err, self->cfg->path, (int)mark.line + 1, (int)mark.column + 1, fmt, ap);
    va_end(ap);
    return CX_E_CONFIG;
}

static int s_nomem(loader_t *self)
{
    return s_error(self->err, self->cfg->path, 0, 0, CX_E_NOMEM, "out of memory");
}

/* A value as it may be quoted in a message: at most 48 bytes, no control bytes. */
static const char *s_clip(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; s[n] && n + 1 < len; n++) {
        if (n == 48) {
            snprintf(buf + n, len - n, "...");
            return buf;
        }
        buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    }
    buf[n] = '\0';
    return buf;
}

/* Formats libyaml's own complaint: where it stopped and what it expected. */
static int s_yaml_error(const yaml_parser_t *parser, const char *name, const char *text, size_t len,
                        cx_config_error_t *err)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return s_error(err, name, 0, 0, CX_E_NOMEM, "out of memory while reading YAML");
    const char *problem = parser->problem ? parser->problem : "unreadable input";
    if (parser->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines up to it. */
        size_t end = parser->problem_offset < len ? parser->problem_offset : len;
        int line = 1, column = 1;
        for (size_t i = 0; i < end; i++) {
            if (text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return s_error(err, name, line, column, CX_E_CONFIG,
                       "bad YAML: %s (the file must be UTF-8 text)", problem);
    }
    int line = (int)parser->problem_mark.line + 1;
    int column = (int)parser->problem_mark.column + 1;
    if (parser->context)
        return s_error(err, name, line, column, CX_E_CONFIG,
                       "bad YAML: %s (%s that starts at line %d, column %d)", problem,
                       parser->context, (int)parser->context_mark.line + 1,
                       (int)parser->context_mark.column + 1);
    return s_error(err, name, line, column, CX_E_CONFIG, "bad YAML: %s", problem);
}

/* ---- nodes ---- */

static const yaml_node_t *s_node(loader_t *self, int index)
{
    return yaml_document_get_node(self->doc, index);
}

static const char *s_text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

/* A plain empty scalar is what libyaml makes of "key:" with nothing after it. */
static bool s_is_empty(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           node->data.scalar.length == 0;
}

static bool s_is_null(const yaml_node_t *node)
{
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = s_text(node);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Where to point for a value: its own mark, or its key's when it is absent
 * (libyaml marks an empty value at the next token, often the next line). */
static yaml_mark_t s_mark(const yaml_node_t *key, const yaml_node_t *val)
{
    return (key && s_is_empty(val)) ? key->start_mark : val->start_mark;
}

static const char *s_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return s_is_null(node) ? "nothing" : "a single value";
    }
}

static bool s_is_key(const yaml_node_t *key, const char *name)
{
    return key->type == YAML_SCALAR_NODE && key->data.scalar.length == strlen(name) &&
           !memcmp(key->data.scalar.value, name, key->data.scalar.length);
}

/* The value under name in map (checked by s_check_keys first), or false. */
static bool s_get(loader_t *self, const yaml_node_t *map, const char *name, const yaml_node_t **key,
                  const yaml_node_t **val)
{
    if (!map || map->type != YAML_MAPPING_NODE) return false;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = s_node(self, p->key);
        if (k && s_is_key(k, name)) {
            *key = k;
            *val = s_node(self, p->value);
            return *val != NULL;
        }
    }
    return false;
}

static void s_join(char *buf, size_t len, const char *const *names, const char *extra)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", names[i]);
    if (extra && n < len) snprintf(buf + n, len - n, ", %s", extra);
}

/* buf = "prefix.name" (or "name"), cut to CX_CONFIG_PATH_MAX: it only ever goes
 * into a message. */
static void s_path(char *buf, const char *prefix, const char *name)
{
    size_t n = 0;
    for (const char *s = prefix; *s && n + 1 < CX_CONFIG_PATH_MAX; s++)
        buf[n++] = *s;
    if (*prefix && n + 1 < CX_CONFIG_PATH_MAX) buf[n++] = '.';
    for (const char *s = name; *s && n + 1 < CX_CONFIG_PATH_MAX; s++)
        buf[n++] = *s;
    buf[n] = '\0';
}

/* Every key of map is a known one (or attributes.KEY when attr_keys) and appears once. */
static int s_check_keys(loader_t *self, const yaml_node_t *map, const char *path, const char *what,
                        const char *const *allowed, bool attr_keys)
{
    char clip[64], expected[160];
    yaml_node_pair_t *start = map->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *key = s_node(self, p->key);
        if (!key) return s_fail(self, map->start_mark, "%s: a key is missing", path);
        if (key->type != YAML_SCALAR_NODE || s_is_null(key))
            return s_fail(self, key->start_mark, "%s%sa key must be a name, found %s", path,
                          *path ? ": " : "", s_kind(key));
        const char *name = s_text(key);
        bool known = attr_keys && !strncmp(name, "attributes.", 11) && name[11];
        for (size_t i = 0; allowed[i] && !known; i++)
            known = s_is_key(key, allowed[i]);
        if (!known) {
            s_join(expected, sizeof expected, allowed, attr_keys ? "attributes.KEY" : NULL);
            s_clip(name, clip, sizeof clip);
            if (!*path)
                return s_fail(self, key->start_mark, "unknown key '%s' (expected %s)", clip,
                              expected);
            return s_fail(self, key->start_mark, "%s: unknown key '%s'%s%s (expected %s)", path,
                          clip, what ? " in " : "", what ? what : "", expected);
        }
        for (yaml_node_pair_t *q = start; q < p; q++) {
            const yaml_node_t *prev = s_node(self, q->key);
            if (prev && s_is_key(prev, name))
                return s_fail(self, key->start_mark, "%s%sduplicate key '%s' (first at line %d)",
                              path, *path ? ": " : "", s_clip(name, clip, sizeof clip),
                              (int)prev->start_mark.line + 1);
        }
    }
    return 0;
}

/* val as a mapping; *out NULL when it is empty ("listen:" alone). */
static int s_mapping(loader_t *self, const yaml_node_t *key, const yaml_node_t *val,
                     const char *path, const yaml_node_t **out)
{
    *out = NULL;
    if (s_is_null(val)) return 0;
    if (val->type != YAML_MAPPING_NODE)
        return s_fail(self, s_mark(key, val), "%s: expected a mapping (key: value lines), found %s",
                      path, s_kind(val));
    *out = val;
    return 0;
}

/* val as a list; n 0 when it is empty ("partners:" alone). */
static int s_list(loader_t *self, const yaml_node_t *key, const yaml_node_t *val, const char *path,
                  size_t *n)
{
    char clip[64];
    *n = 0;
    if (s_is_null(val)) return 0;
    if (val->type == YAML_SCALAR_NODE) /* the common slip: "to: acme" for "to: [acme]" */
        return s_fail(self, val->start_mark,
                      "%s: expected a list, found a single value (write [%s])", path,
                      s_clip(s_text(val), clip, sizeof clip));
    if (val->type != YAML_SEQUENCE_NODE)
        return s_fail(self, s_mark(key, val), "%s: expected a list, found %s", path, s_kind(val));
    *n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
    return 0;
}

static const yaml_node_t *s_item(loader_t *self, const yaml_node_t *list, size_t i)
{
    return s_node(self, list->data.sequence.items.start[i]);
}

/* val as one non-empty string. */
static int s_scalar(loader_t *self, const yaml_node_t *key, const yaml_node_t *val,
                    const char *path, const char **out)
{
    if (val->type != YAML_SCALAR_NODE)
        return s_fail(self, val->start_mark, "%s: expected a single value, found %s", path,
                      s_kind(val));
    if (s_is_null(val) || val->data.scalar.length == 0)
        return s_fail(self, s_mark(key, val), "%s: expected a value, found nothing", path);
    if (strlen(s_text(val)) != val->data.scalar.length)
        return s_fail(self, val->start_mark, "%s: the value contains a NUL character", path);
    *out = s_text(val);
    return 0;
}

static int s_strdup(loader_t *self, const char *s, char **dst)
{
    char *copy = strdup(s);
    if (!copy) return s_nomem(self);
    free(*dst);
    *dst = copy;
    return 0;
}

/* A list of non-empty strings into a new array the config owns from the start. */
static int s_string_list(loader_t *self, const yaml_node_t *key, const yaml_node_t *val,
                         const char *path, char ***dst, size_t *n_dst)
{
    size_t n;
    int rc = s_list(self, key, val, path, &n);
    if (rc || n == 0) return rc;
    *dst = calloc(n, sizeof **dst);
    if (!*dst) return s_nomem(self);
    for (size_t i = 0; i < n; i++) {
        const char *s;
        rc = s_scalar(self, NULL, s_item(self, val, i), path, &s);
        if (rc) return rc;
        (*dst)[i] = strdup(s);
        if (!(*dst)[i]) return s_nomem(self);
        *n_dst = i + 1;
    }
    return 0;
}

static bool s_is_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CX_CONFIG_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- values ---- */

static bool s_digits(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9') return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}

int cx_parse_duration(const char *s, int64_t *out_us)
{
    static const struct {
        const char *unit;
        uint64_t us;
    } units[] = {{"ms", 1000ull},
                 {"s", 1000000ull},
                 {"m", 60000000ull},
                 {"h", 3600000000ull},
                 {"d", 86400000000ull}};
    uint64_t v;
    if (!s || !out_us || !s_digits(&s, &v)) return CX_E_BAD_VALUE;
    if (!*s && v == 0) {
        *out_us = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s, units[i].unit)) continue;
        if (v > (uint64_t)INT64_MAX / units[i].us) return CX_E_BAD_VALUE;
        *out_us = (int64_t)(v * units[i].us);
        return 0;
    }
    return CX_E_BAD_VALUE;
}

int cx_parse_size(const char *s, uint64_t *out_bytes)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},   {"KiB", 10}, {"MiB", 20}, {"GiB", 30},
                 {"TiB", 40}, {"KB", 10}, {"MB", 20},  {"GB", 30},  {"TB", 40}};
    uint64_t v;
    if (!s || !out_bytes || !s_digits(&s, &v)) return CX_E_BAD_VALUE;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(s, units[i].unit)) continue;
        if (v > (UINT64_MAX >> units[i].shift)) return CX_E_BAD_VALUE;
        *out_bytes = v << units[i].shift;
        return 0;
    }
    return CX_E_BAD_VALUE;
}

/* The optional scalar `name` of map: 0 with *val NULL if it is absent, else 0
 * with *val, *s and path (CX_CONFIG_PATH_MAX bytes, "prefix.name") filled, or
 * the error for a value that is not a scalar. */
static int s_opt_scalar(loader_t *self, const yaml_node_t *map, const char *prefix,
                        const char *name, char *path, const yaml_node_t **val, const char **s)
{
    const yaml_node_t *key;
    if (!s_get(self, map, name, &key, val)) {
        *val = NULL;
        return 0;
    }
    s_path(path, prefix, name);
    return s_scalar(self, key, *val, path, s);
}

/* The optional field name of map as a string; replaces the default in *dst. */
static int s_opt_string(loader_t *self, const yaml_node_t *map, const char *prefix,
                        const char *name, char **dst)
{
    const yaml_node_t *val;
    const char *s;
    char path[CX_CONFIG_PATH_MAX];
    int rc = s_opt_scalar(self, map, prefix, name, path, &val, &s);
    return rc || !val ? rc : s_strdup(self, s, dst);
}

static int s_opt_duration(loader_t *self, const yaml_node_t *map, const char *prefix,
                          const char *name, bool zero_ok, int64_t *dst)
{
    const yaml_node_t *val;
    const char *s;
    char path[CX_CONFIG_PATH_MAX], clip[64];
    int rc = s_opt_scalar(self, map, prefix, name, path, &val, &s);
    if (rc || !val) return rc;
    if (cx_parse_duration(s, dst))
        return s_fail(self, val->start_mark,
                      "%s: bad duration '%s': expected a number and ms, s, m, h or d (e.g. 30d, "
                      "500ms)",
                      path, s_clip(s, clip, sizeof clip));
    if (!zero_ok && *dst == 0)
        return s_fail(self, val->start_mark, "%s: must be more than 0", path);
    return 0;
}

static int s_opt_map_size(loader_t *self, const yaml_node_t *map, const char *prefix,
                          const char *name, uint64_t *dst)
{
    const yaml_node_t *val;
    const char *s;
    char path[CX_CONFIG_PATH_MAX], clip[64];
    int rc = s_opt_scalar(self, map, prefix, name, path, &val, &s);
    if (rc || !val) return rc;
    if (cx_parse_size(s, dst))
        return s_fail(self, val->start_mark,
                      "%s: bad size '%s': expected a number and B, KiB, MiB, GiB or TiB (e.g. "
                      "1GiB)",
                      path, s_clip(s, clip, sizeof clip));
    if (*dst < CX_CONFIG_MIN_MAP)
        return s_fail(self, val->start_mark, "%s: %s is too small: use at least 1MiB", path,
                      s_clip(s, clip, sizeof clip));
    return 0;
}

static int s_opt_uint32(loader_t *self, const yaml_node_t *map, const char *prefix,
                        const char *name, uint32_t min, uint32_t *dst)
{
    const yaml_node_t *val;
    const char *s, *end;
    char path[CX_CONFIG_PATH_MAX], clip[64];
    uint64_t v;
    int rc = s_opt_scalar(self, map, prefix, name, path, &val, &s);
    if (rc || !val) return rc;
    end = s;
    if (!s_digits(&end, &v) || *end || v < min || v > UINT32_MAX)
        return s_fail(self, val->start_mark,
                      "%s: bad number '%s': expected a whole number from %u to %u", path,
                      s_clip(s, clip, sizeof clip), (unsigned)min, (unsigned)UINT32_MAX);
    *dst = (uint32_t)v;
    return 0;
}

/* A fraction in [0, 1], for progress conditions. */
static int s_opt_fraction(loader_t *self, const yaml_node_t *map, const char *prefix,
                          const char *name, bool *has, double *dst)
{
    const yaml_node_t *val;
    const char *s;
    char path[CX_CONFIG_PATH_MAX], clip[64], *end;
    int rc = s_opt_scalar(self, map, prefix, name, path, &val, &s);
    if (rc || !val) return rc;
    errno = 0;
    double v = strtod(s, &end);
    bool ok = (s[0] == '.' || (s[0] >= '0' && s[0] <= '9')) && !*end && !errno && isfinite(v) &&
              v >= 0 && v <= 1;
    if (!ok)
        return s_fail(self, val->start_mark,
                      "%s: bad number '%s': expected a fraction from 0 to 1 (e.g. 0.5)", path,
                      s_clip(s, clip, sizeof clip));
    *has = true;
    *dst = v;
    return 0;
}

static int s_opt_endpoint(loader_t *self, const yaml_node_t *map, const char *name, char **dst)
{
    const yaml_node_t *val;
    const char *s;
    char path[CX_CONFIG_PATH_MAX], clip[64];
    int rc = s_opt_scalar(self, map, "listen", name, path, &val, &s);
    if (rc || !val) return rc;
    bool ok = (!strncmp(s, "tcp://", 6) && s[6]) || (!strncmp(s, "ipc://", 6) && s[6]) ||
              (!strncmp(s, "inproc://", 9) && s[9]);
    if (!ok)
        return s_fail(self, val->start_mark,
                      "%s: bad endpoint '%s': expected tcp://HOST:PORT or ipc://PATH", path,
                      s_clip(s, clip, sizeof clip));
    return s_strdup(self, s, dst);
}

/* ---- sections ---- */

static int s_listen(loader_t *self, const yaml_node_t *map)
{
    static const char *const keys[] = {"publish", "deliver", "admin", NULL};
    int rc = s_check_keys(self, map, "listen", NULL, keys, false);
    if (!rc) rc = s_opt_endpoint(self, map, "publish", &self->cfg->listen_publish);
    if (!rc) rc = s_opt_endpoint(self, map, "deliver", &self->cfg->listen_deliver);
    if (!rc) rc = s_opt_endpoint(self, map, "admin", &self->cfg->listen_admin);
    return rc;
}

static int s_storage(loader_t *self, const yaml_node_t *map)
{
    static const char *const keys[] = {"path", "map_size",  "state_map_size",
                                       "sync", "retention", NULL};
    cx_config_t *cfg = self->cfg;
    const yaml_node_t *key, *val;
    int rc = s_check_keys(self, map, "storage", NULL, keys, false);
    if (!rc) rc = s_opt_string(self, map, "storage", "path", &cfg->storage_path);
    if (!rc) rc = s_opt_map_size(self, map, "storage", "map_size", &cfg->map_size);
    if (!rc) rc = s_opt_map_size(self, map, "storage", "state_map_size", &cfg->state_map_size);
    if (!rc) rc = s_opt_duration(self, map, "storage", "retention", true, &cfg->retention_us);
    if (rc || !s_get(self, map, "sync", &key, &val)) return rc;
    const char *s;
    char clip[64];
    rc = s_scalar(self, key, val, "storage.sync", &s);
    if (rc) return rc;
    if (!strcmp(s, "full"))
        cfg->sync = CX_SYNC_FULL;
    else if (!strcmp(s, "batch"))
        cfg->sync = CX_SYNC_BATCH;
    else if (!strcmp(s, "none"))
        cfg->sync = CX_SYNC_NONE;
    else
        return s_fail(self, val->start_mark,
                      "storage.sync: bad value '%s': expected full, batch or none",
                      s_clip(s, clip, sizeof clip));
    return 0;
}

static int s_ingest(loader_t *self, const yaml_node_t *map)
{
    static const char *const keys[] = {"max_event_bytes", "batch_max", NULL};
    int rc = s_check_keys(self, map, "ingest", NULL, keys, false);
    if (!rc)
        rc = s_opt_uint32(self, map, "ingest", "max_event_bytes", 1, &self->cfg->max_event_bytes);
    if (!rc) rc = s_opt_uint32(self, map, "ingest", "batch_max", 1, &self->cfg->batch_max);
    return rc;
}

static int s_dedup(loader_t *self, const yaml_node_t *map)
{
    static const char *const keys[] = {"window", "window_count", NULL};
    int rc = s_check_keys(self, map, "dedup", NULL, keys, false);
    if (!rc) rc = s_opt_duration(self, map, "dedup", "window", true, &self->cfg->dedup_window_us);
    if (!rc)
        rc = s_opt_uint32(self, map, "dedup", "window_count", 0, &self->cfg->dedup_window_count);
    return rc;
}

static int s_checkpoint(loader_t *self, const yaml_node_t *map)
{
    static const char *const keys[] = {"interval", "max_dirty", "cache_customers", NULL};
    cx_config_t *cfg = self->cfg;
    int rc = s_check_keys(self, map, "checkpoint", NULL, keys, false);
    if (!rc)
        rc = s_opt_duration(self, map, "checkpoint", "interval", false,
                            &cfg->checkpoint_interval_us);
    if (!rc) rc = s_opt_uint32(self, map, "checkpoint", "max_dirty", 1, &cfg->checkpoint_max_dirty);
    if (!rc)
        rc = s_opt_uint32(self, map, "checkpoint", "cache_customers", 0, &cfg->cache_customers);
    return rc;
}

/* ---- partners ---- */

/* The name of the i-th partner or route, and the line it was defined on. */
typedef const char *(*name_at_fn)(const cx_config_t *cfg, size_t i, int *line);

static const char *s_partner_name_at(const cx_config_t *cfg, size_t i, int *line)
{
    *line = cfg->partners[i].line;
    return cfg->partners[i].id;
}

static const char *s_route_name_at(const cx_config_t *cfg, size_t i, int *line)
{
    *line = cfg->routes[i].line;
    return cfg->routes[i].name;
}

/* A required identifier under `key` (a partner's id, a route's name): present,
 * of the id alphabet, and unlike the index names defined before it. */
static int s_unique_name(loader_t *self, const yaml_node_t *map, const char *path,
                         const char *owner, const char *key_name, const char *what, size_t index,
                         name_at_fn name_at, char **out)
{
    const yaml_node_t *key, *val;
    const char *s;
    char p[CX_CONFIG_PATH_MAX], clip[64];
    if (!s_get(self, map, key_name, &key, &val))
        return s_fail(self, map->start_mark, "%s: missing required key '%s' in %s", path, key_name,
                      owner);
    s_path(p, path, key_name);
    int rc = s_scalar(self, key, val, p, &s);
    if (rc) return rc;
    if (!s_is_id(s))
        return s_fail(self, val->start_mark,
                      "%s: bad %s '%s': use 1 to 64 of the characters A-Z a-z 0-9 . _ -", p, what,
                      s_clip(s, clip, sizeof clip));
    for (size_t i = 0; i < index; i++) {
        int line;
        if (!strcmp(name_at(self->cfg, i, &line), s))
            return s_fail(self, val->start_mark, "%s: duplicate %s '%s' (first defined at line %d)",
                          p, what, s, line);
    }
    return s_strdup(self, s, out);
}

static int s_partner_id(loader_t *self, const yaml_node_t *map, const char *path, size_t index)
{
    return s_unique_name(self, map, path, "partner", "id", "partner id", index, s_partner_name_at,
                         &self->cfg->partners[index].id);
}

static int s_partner_sees(loader_t *self, const yaml_node_t *map, const char *path,
                          cx_partner_cfg_t *partner)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } parts[] = {{"goals", CX_SEES_GOALS},           {"milestones", CX_SEES_MILESTONES},
                 {"attributes", CX_SEES_ATTRIBUTES}, {"consents", CX_SEES_CONSENTS},
                 {"offers", CX_SEES_OFFERS},         {"activity", CX_SEES_ACTIVITY}};
    const yaml_node_t *key, *val;
    char p[CX_CONFIG_PATH_MAX], clip[64];
    size_t n;
    if (!s_get(self, map, "sees", &key, &val)) return 0;
    s_path(p, path, "sees");
    int rc = s_list(self, key, val, p, &n);
    if (rc || n == 0) return rc;
    partner->sees_attributes = calloc(n, sizeof *partner->sees_attributes);
    if (!partner->sees_attributes) return s_nomem(self);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = s_item(self, val, i);
        const char *s;
        rc = s_scalar(self, NULL, item, p, &s);
        if (rc) return rc;
        bool known = false;
        for (size_t j = 0; j < sizeof parts / sizeof parts[0] && !known; j++) {
            if (strcmp(s, parts[j].name)) continue;
            partner->sees |= parts[j].bit;
            known = true;
        }
        if (known) continue;
        if (strncmp(s, "attributes.", 11) || !s[11])
            return s_fail(self, item->start_mark,
                          "%s: bad entry '%s': expected goals, milestones, attributes, "
                          "attributes.KEY, consents, offers or activity",
                          p, s_clip(s, clip, sizeof clip));
        char *attr = strdup(s + 11);
        if (!attr) return s_nomem(self);
        partner->sees_attributes[partner->n_sees_attributes++] = attr;
    }
    return 0;
}

static void s_event_types(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int t = CX_EV_UNKNOWN + 1; t < CX_EV_COUNT && n < len; t++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", t > 1 ? ", " : "",
                              cx_event_type_name((cx_event_type_t)t));
}

static int s_partner_may_publish(loader_t *self, const yaml_node_t *map, const char *path,
                                 cx_partner_cfg_t *partner)
{
    const yaml_node_t *key, *val;
    char p[CX_CONFIG_PATH_MAX], clip[64], types[256];
    if (!s_get(self, map, "may_publish", &key, &val)) return 0;
    s_path(p, path, "may_publish");
    int rc = s_string_list(self, key, val, p, &partner->may_publish, &partner->n_may_publish);
    for (size_t i = 0; !rc && i < partner->n_may_publish; i++) {
        if (cx_event_type_parse(partner->may_publish[i]) != CX_EV_UNKNOWN) continue;
        s_event_types(types, sizeof types);
        return s_fail(self, s_item(self, val, i)->start_mark,
                      "%s: unknown event type '%s' (expected %s)", p,
                      s_clip(partner->may_publish[i], clip, sizeof clip), types);
    }
    return rc;
}

static int s_partner_public_key(loader_t *self, const yaml_node_t *map, const char *path,
                                cx_partner_cfg_t *partner)
{
    const yaml_node_t *key, *val;
    char p[CX_CONFIG_PATH_MAX];
    if (!s_get(self, map, "public_key", &key, &val)) return 0;
    s_path(p, path, "public_key");
    const char *s;
    int rc = s_scalar(self, key, val, p, &s);
    if (rc) return rc;
    if (strlen(s) != 40 || strspn(s, s_z85_chars) != 40)
        return s_fail(self, val->start_mark,
                      "%s: bad CURVE public key: expected 40 Z85 characters (as zmq_curve_keypair "
                      "prints them)",
                      p);
    return s_strdup(self, s, &partner->public_key);
}

static int s_partner(loader_t *self, const yaml_node_t *item, size_t index)
{
    static const char *const keys[] = {"id",          "public_key",    "categories", "sees",
                                       "may_publish", "max_in_flight", NULL};
    cx_partner_cfg_t *partner = &self->cfg->partners[index];
    const yaml_node_t *key, *val;
    char path[CX_CONFIG_PATH_MAX], p[CX_CONFIG_PATH_MAX];
    snprintf(path, sizeof path, "partners[%zu]", index);
    if (item->type != YAML_MAPPING_NODE)
        return s_fail(self, item->start_mark,
                      "%s: expected a mapping (id: ..., sees: ...), found %s", path, s_kind(item));
    partner->line = (int)item->start_mark.line + 1;
    partner->max_in_flight = 1000;
    int rc = s_check_keys(self, item, path, "partner", keys, false);
    if (!rc) rc = s_partner_id(self, item, path, index);
    if (!rc) rc = s_partner_public_key(self, item, path, partner);
    if (!rc && s_get(self, item, "categories", &key, &val)) {
        s_path(p, path, "categories");
        rc = s_string_list(self, key, val, p, &partner->categories, &partner->n_categories);
    }
    if (!rc) rc = s_partner_sees(self, item, path, partner);
    if (!rc) rc = s_partner_may_publish(self, item, path, partner);
    if (!rc) rc = s_opt_uint32(self, item, path, "max_in_flight", 1, &partner->max_in_flight);
    return rc;
}

static int s_partners(loader_t *self, const yaml_node_t *key, const yaml_node_t *val)
{
    size_t n;
    int rc = s_list(self, key, val, "partners", &n);
    if (rc || n == 0) return rc;
    self->cfg->partners = calloc(n, sizeof *self->cfg->partners);
    if (!self->cfg->partners) return s_nomem(self);
    self->cfg->n_partners = n; /* all zeroed, so destroy is safe at any point */
    for (size_t i = 0; i < n && !rc; i++)
        rc = s_partner(self, s_item(self, val, i), i);
    return rc;
}

/* ---- routes ---- */

static int s_route_name(loader_t *self, const yaml_node_t *map, const char *path, size_t index)
{
    return s_unique_name(self, map, path, "route", "name", "route name", index, s_route_name_at,
                         &self->cfg->routes[index].name);
}

static int s_route_type(loader_t *self, const yaml_node_t *map, const char *path,
                        cx_route_cfg_t *route)
{
    const yaml_node_t *key, *val;
    char clip[64], types[256];
    int rc = s_opt_string(self, map, path, "type", &route->type_glob);
    if (rc || !route->type_glob || strpbrk(route->type_glob, "*?")) return rc;
    if (cx_event_type_parse(route->type_glob) != CX_EV_UNKNOWN) return 0;
    s_get(self, map, "type", &key, &val);
    s_event_types(types, sizeof types);
    return s_fail(self, val->start_mark,
                  "%s.type: unknown event type '%s' (expected %s; or a glob such as goal.*)", path,
                  s_clip(route->type_glob, clip, sizeof clip), types);
}

static int s_route_match(loader_t *self, const yaml_node_t *key, const yaml_node_t *val,
                         const char *path, cx_route_cfg_t *route)
{
    static const char *const keys[] = {"type", "source", "goal.category", "milestone", NULL};
    const yaml_node_t *map;
    char p[CX_CONFIG_PATH_MAX];
    s_path(p, path, "match");
    int rc = s_mapping(self, key, val, p, &map);
    if (rc || !map) return rc;
    rc = s_check_keys(self, map, p, NULL, keys, true);
    if (!rc) rc = s_route_type(self, map, p, route);
    if (!rc) rc = s_opt_string(self, map, p, "source", &route->source_glob);
    if (!rc) rc = s_opt_string(self, map, p, "goal.category", &route->goal_category_glob);
    if (!rc) rc = s_opt_string(self, map, p, "milestone", &route->milestone_glob);
    if (rc) return rc;
    size_t n = 0;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++)
        n += !strncmp(s_text(s_node(self, pair->key)), "attributes.", 11);
    if (n == 0) return 0;
    route->attr_match = calloc(n, sizeof *route->attr_match);
    if (!route->attr_match) return s_nomem(self);
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        const yaml_node_t *k = s_node(self, pair->key), *v = s_node(self, pair->value);
        if (strncmp(s_text(k), "attributes.", 11)) continue;
        const char *glob;
        char ap[CX_CONFIG_PATH_MAX];
        s_path(ap, p, s_text(k));
        rc = s_scalar(self, k, v, ap, &glob);
        if (rc) return rc;
        cx_attr_match_t *m = &route->attr_match[route->n_attr_match];
        m->key = strdup(s_text(k) + 11);
        m->glob = strdup(glob);
        route->n_attr_match++; /* counted first, so destroy frees a half-made pair */
        if (!m->key || !m->glob) return s_nomem(self);
    }
    return 0;
}

static int s_route_where(loader_t *self, const yaml_node_t *key, const yaml_node_t *val,
                         const char *path, cx_route_cfg_t *route)
{
    static const char *const keys[] = {"goal.deadline_within", "goal.progress_at_least",
                                       "goal.progress_below",  "has_attributes",
                                       "missing_attributes",   NULL};
    const yaml_node_t *map, *k, *v;
    char p[CX_CONFIG_PATH_MAX], lp[CX_CONFIG_PATH_MAX], clip[64];
    s_path(p, path, "where");
    int rc = s_mapping(self, key, val, p, &map);
    if (rc || !map) return rc;
    rc = s_check_keys(self, map, p, NULL, keys, false);
    if (rc) return rc;
    if (s_get(self, map, "goal.deadline_within", &k, &v)) {
        rc =
            s_opt_duration(self, map, p, "goal.deadline_within", false, &route->deadline_within_us);
        if (rc) return rc;
        route->has_deadline_within = true;
    }
    rc = s_opt_fraction(self, map, p, "goal.progress_at_least", &route->has_progress_at_least,
                        &route->progress_at_least);
    if (!rc)
        rc = s_opt_fraction(self, map, p, "goal.progress_below", &route->has_progress_below,
                            &route->progress_below);
    if (!rc && s_get(self, map, "has_attributes", &k, &v)) {
        s_path(lp, p, "has_attributes");
        rc = s_string_list(self, k, v, lp, &route->has_attributes, &route->n_has_attributes);
    }
    if (!rc && s_get(self, map, "missing_attributes", &k, &v)) {
        s_path(lp, p, "missing_attributes");
        rc =
            s_string_list(self, k, v, lp, &route->missing_attributes, &route->n_missing_attributes);
    }
    if (rc) return rc;
    if (route->has_progress_at_least && route->has_progress_below &&
        route->progress_at_least >= route->progress_below)
        return s_fail(self, map->start_mark,
                      "%s: goal.progress_at_least %g is not below goal.progress_below %g, so the "
                      "route can never match",
                      p, route->progress_at_least, route->progress_below);
    for (size_t i = 0; i < route->n_has_attributes; i++)
        for (size_t j = 0; j < route->n_missing_attributes; j++)
            if (!strcmp(route->has_attributes[i], route->missing_attributes[j]))
                return s_fail(self, map->start_mark,
                              "%s: '%s' is in both has_attributes and missing_attributes, so the "
                              "route can never match",
                              p, s_clip(route->has_attributes[i], clip, sizeof clip));
    return 0;
}

/* "a, b, c" of the known partner ids, for an unknown-partner message. */
static void s_known_partners(const cx_config_t *cfg, char *buf, size_t len)
{
    size_t n = 0;
    if (cfg->n_partners == 0) {
        snprintf(buf, len, "no partners are defined");
        return;
    }
    n = (size_t)snprintf(buf, len, "known: ");
    for (size_t i = 0; i < cfg->n_partners && n < len; i++) {
        if (n + strlen(cfg->partners[i].id) + 8 >= len) {
            snprintf(buf + n, len - n, ", ...");
            return;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", cfg->partners[i].id);
    }
}

static int s_route_to(loader_t *self, const yaml_node_t *map, const char *path,
                      cx_route_cfg_t *route)
{
    const yaml_node_t *key, *val;
    char p[CX_CONFIG_PATH_MAX], clip[64], known[256];
    size_t n;
    if (!s_get(self, map, "to", &key, &val))
        return s_fail(self, map->start_mark,
                      "%s: missing required key 'to' in route (the partner ids to deliver to)",
                      path);
    s_path(p, path, "to");
    int rc = s_list(self, key, val, p, &n);
    if (rc) return rc;
    if (n == 0) return s_fail(self, s_mark(key, val), "%s: name at least one partner", p);
    route->to = calloc(n, sizeof *route->to);
    if (!route->to) return s_nomem(self);
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = s_item(self, val, i);
        const char *id;
        rc = s_scalar(self, NULL, item, p, &id);
        if (rc) return rc;
        int index = cx_config_partner_index(self->cfg, id);
        if (index < 0) {
            s_known_partners(self->cfg, known, sizeof known);
            return s_fail(self, item->start_mark, "%s: unknown partner '%s' (%s)", p,
                          s_clip(id, clip, sizeof clip), known);
        }
        for (size_t j = 0; j < route->n_to; j++)
            if (route->to[j] == (size_t)index)
                return s_fail(self, item->start_mark, "%s: partner '%s' is listed twice", p, id);
        route->to[route->n_to++] = (size_t)index;
    }
    return 0;
}

static int s_route_consent(loader_t *self, const yaml_node_t *map, const char *path,
                           cx_route_cfg_t *route)
{
    const yaml_node_t *key, *val;
    const char *s;
    char p[CX_CONFIG_PATH_MAX], clip[64];
    route->consent_required = true;
    if (!s_get(self, map, "consent", &key, &val)) return 0;
    s_path(p, path, "consent");
    int rc = s_scalar(self, key, val, p, &s);
    if (rc) return rc;
    if (!strcmp(s, "required")) return 0;
    if (!strcmp(s, "not-required")) {
        route->consent_required = false;
        return 0;
    }
    return s_fail(self, val->start_mark, "%s: bad value '%s': expected required or not-required", p,
                  s_clip(s, clip, sizeof clip));
}

static int s_route(loader_t *self, const yaml_node_t *item, size_t index)
{
    static const char *const keys[] = {"name", "match", "where", "to", "consent", NULL};
    cx_route_cfg_t *route = &self->cfg->routes[index];
    const yaml_node_t *key, *val;
    char path[CX_CONFIG_PATH_MAX];
    snprintf(path, sizeof path, "routes[%zu]", index);
    if (item->type != YAML_MAPPING_NODE)
        return s_fail(self, item->start_mark,
                      "%s: expected a mapping (name: ..., match: ..., to: ...), found %s", path,
                      s_kind(item));
    route->line = (int)item->start_mark.line + 1;
    int rc = s_check_keys(self, item, path, "route", keys, false);
    if (!rc) rc = s_route_name(self, item, path, index);
    if (!rc && s_get(self, item, "match", &key, &val))
        rc = s_route_match(self, key, val, path, route);
    if (!rc && s_get(self, item, "where", &key, &val))
        rc = s_route_where(self, key, val, path, route);
    if (!rc) rc = s_route_to(self, item, path, route);
    if (!rc) rc = s_route_consent(self, item, path, route);
    return rc;
}

static int s_routes(loader_t *self, const yaml_node_t *key, const yaml_node_t *val)
{
    size_t n;
    int rc = s_list(self, key, val, "routes", &n);
    if (rc || n == 0) return rc;
    self->cfg->routes = calloc(n, sizeof *self->cfg->routes);
    if (!self->cfg->routes) return s_nomem(self);
    self->cfg->n_routes = n;
    for (size_t i = 0; i < n && !rc; i++)
        rc = s_route(self, s_item(self, val, i), i);
    return rc;
}

/* ---- the document ---- */

typedef int (*s_section_fn)(loader_t *self, const yaml_node_t *map);

static int s_section(loader_t *self, const yaml_node_t *root, const char *name, s_section_fn fn)
{
    const yaml_node_t *key, *val, *map;
    if (!s_get(self, root, name, &key, &val)) return 0;
    int rc = s_mapping(self, key, val, name, &map);
    return (rc || !map) ? rc : fn(self, map);
}

/* An event_id is recognised as a duplicate only while its event is in the log,
 * so retention (when on) must cover the dedup window. */
static int s_check_retention(loader_t *self, const yaml_node_t *root)
{
    const cx_config_t *cfg = self->cfg;
    if (cfg->retention_us == 0 || cfg->retention_us >= cfg->dedup_window_us) return 0;
    const yaml_node_t *key, *storage, *rkey, *rval;
    yaml_mark_t mark = root->start_mark;
    if (s_get(self, root, "storage", &key, &storage) && storage->type == YAML_MAPPING_NODE &&
        s_get(self, storage, "retention", &rkey, &rval))
        mark = rval->start_mark;
    return s_fail(self, mark,
                  "storage.retention (%llds) is shorter than dedup.window (%llds): a retried "
                  "event_id could then be applied twice; make retention at least the window",
                  (long long)(cfg->retention_us / 1000000),
                  (long long)(cfg->dedup_window_us / 1000000));
}

static int s_root(loader_t *self, const yaml_node_t *root)
{
    static const char *const keys[] = {"listen",     "storage",  "ingest", "dedup",
                                       "checkpoint", "partners", "routes", NULL};
    const yaml_node_t *key, *val;
    if (!root || s_is_null(root)) return 0; /* an empty file: the defaults */
    if (root->type != YAML_MAPPING_NODE)
        return s_fail(self, root->start_mark,
                      "the top level must be a mapping of sections (listen, storage, partners, "
                      "routes, ...), found %s",
                      s_kind(root));
    int rc = s_check_keys(self, root, "", NULL, keys, false);
    if (!rc) rc = s_section(self, root, "listen", s_listen);
    if (!rc) rc = s_section(self, root, "storage", s_storage);
    if (!rc) rc = s_section(self, root, "ingest", s_ingest);
    if (!rc) rc = s_section(self, root, "dedup", s_dedup);
    if (!rc) rc = s_section(self, root, "checkpoint", s_checkpoint);
    /* Partners before routes whatever the file's order: routes name them. */
    if (!rc && s_get(self, root, "partners", &key, &val)) rc = s_partners(self, key, val);
    if (!rc && s_get(self, root, "routes", &key, &val)) rc = s_routes(self, key, val);
    if (!rc) rc = s_check_retention(self, root);
    return rc;
}

/* ---- paths ---- */

/* Collapses "//", "/./" and "dir/.." in an absolute path, in place. Lexical, so
 * correct when the part before the relative path is canonical (realpath). */
static void s_normalize(char *p)
{
    const char *in = p;
    size_t n = 0;
    while (*in) {
        while (*in == '/')
            in++;
        if (!*in) break;
        const char *seg = in;
        while (*in && *in != '/')
            in++;
        size_t len = (size_t)(in - seg);
        if (len == 1 && seg[0] == '.') continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && p[n - 1] != '/')
                n--;
            if (n > 0) n--;
            continue;
        }
        p[n++] = '/';
        memmove(p + n, seg, len);
        n += len;
    }
    if (n == 0) p[n++] = '/';
    p[n] = '\0';
}

/* *path = prefix + base + "/" + rest of *path, when that rest is relative. */
static int s_resolve(loader_t *self, char **path, size_t prefix_len)
{
    const char *rel = *path + prefix_len;
    if (rel[0] == '/') return 0;
    size_t len = prefix_len + strlen(self->base) + 1 + strlen(rel) + 1;
    char *out = malloc(len);
    if (!out) return s_nomem(self);
    snprintf(out, len, "%.*s%s/%s", (int)prefix_len, *path, self->base, rel);
    s_normalize(out + prefix_len);
    free(*path);
    *path = out;
    return 0;
}

static int s_resolve_endpoint(loader_t *self, char **endpoint)
{
    const char *s = *endpoint;
    if (strncmp(s, "ipc://", 6) || s[6] == '@' || !strcmp(s + 6, "*")) return 0;
    return s_resolve(self, endpoint, 6);
}

static int s_resolve_paths(loader_t *self)
{
    cx_config_t *cfg = self->cfg;
    int rc = s_resolve(self, &cfg->storage_path, 0);
    if (!rc) rc = s_resolve_endpoint(self, &cfg->listen_publish);
    if (!rc) rc = s_resolve_endpoint(self, &cfg->listen_deliver);
    if (!rc) rc = s_resolve_endpoint(self, &cfg->listen_admin);
    return rc;
}

/* Two sockets cannot bind one endpoint; say so now rather than at bind time. */
static int s_check_endpoints(loader_t *self, const yaml_node_t *root)
{
    const char *names[] = {"publish", "deliver", "admin"};
    const char *values[] = {self->cfg->listen_publish, self->cfg->listen_deliver,
                            self->cfg->listen_admin};
    for (int i = 1; i < 3; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(values[i], values[j])) continue;
            const yaml_node_t *key, *val, *listen;
            yaml_mark_t mark = root->start_mark;
            if (s_get(self, root, "listen", &key, &listen)) {
                mark = key->start_mark;
                if (s_get(self, listen, names[i], &key, &val) ||
                    s_get(self, listen, names[j], &key, &val))
                    mark = val->start_mark;
            }
            return s_fail(self, mark, "listen.%s: same endpoint as listen.%s (%s)", names[i],
                          names[j], values[i]);
        }
    }
    return 0;
}

/* ---- public ---- */

static cx_config_t *s_config_new(const char *name)
{
    cx_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    cfg->path = strdup(name);
    cfg->listen_publish = strdup("tcp://127.0.0.1:7700");
    cfg->listen_deliver = strdup("tcp://127.0.0.1:7701");
    cfg->listen_admin = strdup("ipc://var/admin.sock");
    cfg->storage_path = strdup("var/data");
    cfg->map_size = 1ull << 30;
    cfg->state_map_size = 1ull << 30;
    cfg->sync = CX_SYNC_FULL;
    cfg->retention_us = 0;
    cfg->max_event_bytes = 65536;
    cfg->batch_max = 4096;
    cfg->dedup_window_us = 10 * 60 * 1000000ll;
    cfg->dedup_window_count = 1000000;
    cfg->checkpoint_interval_us = 5000000;
    cfg->checkpoint_max_dirty = 50000;
    cfg->cache_customers = 50000;
    if (!cfg->path || !cfg->listen_publish || !cfg->listen_deliver || !cfg->listen_admin ||
        !cfg->storage_path)
        cx_config_destroy(&cfg);
    return cfg;
}

/* An absolute, canonical form of dir when it exists; else dir made absolute. */
static char *s_base_dir(const char *dir)
{
    char *real = realpath(dir ? dir : ".", NULL);
    if (real || (dir && dir[0] == '/')) return real ? real : strdup(dir);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    size_t len = strlen(cwd) + 1 + strlen(dir) + 1;
    char *out = malloc(len);
    if (out) {
        snprintf(out, len, "%s/%s", cwd, dir);
        s_normalize(out);
    }
    return out;
}

/* Composes the document, checks there is only one, walks it. */
static int s_load_document(yaml_parser_t *parser, loader_t *self, const char *text, size_t len)
{
    yaml_document_t extra;
    if (!yaml_parser_load(parser, self->doc))
        return s_yaml_error(parser, self->cfg->path, text, len, self->err);
    int rc = s_root(self, yaml_document_get_root_node(self->doc));
    if (rc) return rc;
    if (!yaml_parser_load(parser, &extra))
        return s_yaml_error(parser, self->cfg->path, text, len, self->err);
    if (yaml_document_get_root_node(&extra))
        rc = s_fail(self, extra.start_mark,
                    "a second YAML document starts here: put the whole config in one document");
    yaml_document_delete(&extra);
    if (!rc) rc = s_resolve_paths(self);
    if (!rc) rc = s_check_endpoints(self, yaml_document_get_root_node(self->doc));
    return rc;
}

static int s_parse(const char *text, size_t len, const char *name, const char *base_dir,
                   cx_config_t **out, cx_config_error_t *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    memset(&doc, 0, sizeof doc);
    loader_t self = {.doc = &doc, .err = err, .cfg = s_config_new(name)};
    char *base = s_base_dir(base_dir);
    self.base = base;
    if (!self.cfg || !base) {
        free(base);
        cx_config_destroy(&self.cfg);
        return s_error(err, name, 0, 0, CX_E_NOMEM, "out of memory");
    }
    if (!yaml_parser_initialize(&parser)) {
        free(base);
        cx_config_destroy(&self.cfg);
        return s_error(err, name, 0, 0, CX_E_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""),
                                 text ? len : 0);
    int rc = s_load_document(&parser, &self, text ? text : "", text ? len : 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(base);
    if (rc) {
        cx_config_destroy(&self.cfg);
        return rc;
    }
    *out = self.cfg;
    return 0;
}

int cx_config_parse(const char *text, size_t len, const char *name, const char *base_dir,
                    cx_config_t **out, cx_config_error_t *err)
{
    cx_config_error_t scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    if (!name) name = "<string>";
    if (!out || (!text && len))
        return s_error(err, name, 0, 0, CX_E_INVAL, "no config text or no place to put it");
    *out = NULL;
    return s_parse(text, len, name, base_dir, out, err);
}

/* The whole file into a malloc'd buffer; CX_E_IO with the errno text. */
static int s_read_file(const char *path, char **text, size_t *len, cx_config_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return s_error(err, path, 0, 0, CX_E_IO, "cannot open: %s", strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : s_error(err, path, 0, 0, CX_E_NOMEM, "out of memory");
    while (!rc) {
        if (n == cap) {
            char *bigger = cap < CX_CONFIG_MAX_FILE ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                rc = cap < CX_CONFIG_MAX_FILE
                         ? s_error(err, path, 0, 0, CX_E_NOMEM, "out of memory")
                         : s_error(err, path, 0, 0, CX_E_IO,
                                   "cannot read: larger than %u MiB, not a config file",
                                   CX_CONFIG_MAX_FILE >> 20);
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got > 0) continue;
        if (ferror(f)) rc = s_error(err, path, 0, 0, CX_E_IO, "cannot read: %s", strerror(errno));
        break;
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return 0;
}

int cx_config_load(const char *path, cx_config_t **out, cx_config_error_t *err)
{
    cx_config_error_t scratch;
    char *text = NULL;
    size_t len = 0;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    if (!path || !out)
        return s_error(err, path, 0, 0, CX_E_INVAL, "no config path or no place to put it");
    *out = NULL;
    int rc = s_read_file(path, &text, &len, err);
    if (rc) return rc;
    char *dir = strdup(path);
    if (!dir) {
        free(text);
        return s_error(err, path, 0, 0, CX_E_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    rc = s_parse(text, len, path, dir, out, err);
    free(dir);
    free(text);
    return rc;
}

void cx_config_error_format(const cx_config_error_t *err, char *buf, size_t len)
{
    if (!buf || len == 0) return;
    if (!err) {
        snprintf(buf, len, "no error");
    } else if (err->line <= 0) {
        snprintf(buf, len, "%s: %s", err->file, err->message);
    } else if (err->column <= 0) {
        snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->message);
    } else {
        snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->column, err->message);
    }
}

static void s_free_strings(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void cx_config_destroy(cx_config_t **self)
{
    if (!self || !*self) return;
    cx_config_t *cfg = *self;
    for (size_t i = 0; i < cfg->n_partners; i++) {
        cx_partner_cfg_t *p = &cfg->partners[i];
        free(p->id);
        s_free_strings(p->categories, p->n_categories);
        s_free_strings(p->sees_attributes, p->n_sees_attributes);
        s_free_strings(p->may_publish, p->n_may_publish);
        free(p->public_key);
    }
    free(cfg->partners);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        cx_route_cfg_t *r = &cfg->routes[i];
        free(r->name);
        free(r->type_glob);
        free(r->source_glob);
        free(r->goal_category_glob);
        free(r->milestone_glob);
        for (size_t j = 0; j < r->n_attr_match; j++) {
            free(r->attr_match[j].key);
            free(r->attr_match[j].glob);
        }
        free(r->attr_match);
        s_free_strings(r->has_attributes, r->n_has_attributes);
        s_free_strings(r->missing_attributes, r->n_missing_attributes);
        free(r->to);
    }
    free(cfg->routes);
    free(cfg->path);
    free(cfg->listen_publish);
    free(cfg->listen_deliver);
    free(cfg->listen_admin);
    free(cfg->storage_path);
    free(cfg);
    *self = NULL;
}

int cx_config_partner_index(const cx_config_t *self, const char *id)
{
    if (!self || !id) return -1;
    for (size_t i = 0; i < self->n_partners; i++)
        if (self->partners[i].id && !strcmp(self->partners[i].id, id)) return (int)i;
    return -1;
}
