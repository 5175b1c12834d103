/* cx_event.c - the event type table and time helpers of cx_event.h. */
#include "cx_event.h"
#include "cx_error.h"
#include "event.pb-c.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int payload;
} s_types[CX_EV_COUNT] = {
    [CX_EV_UNKNOWN] = {"unknown", CX__EVENT__PAYLOAD__NOT_SET},
    [CX_EV_GOAL_SET] = {"goal.set", CX__EVENT__PAYLOAD_GOAL},
    [CX_EV_GOAL_UPDATED] = {"goal.updated", CX__EVENT__PAYLOAD_GOAL},
    [CX_EV_GOAL_COMPLETED] = {"goal.completed", CX__EVENT__PAYLOAD_GOAL},
    [CX_EV_GOAL_ABANDONED] = {"goal.abandoned", CX__EVENT__PAYLOAD_GOAL},
    [CX_EV_MILESTONE_REACHED] = {"milestone.reached", CX__EVENT__PAYLOAD_MILESTONE},
    [CX_EV_ACTIVITY] = {"activity", CX__EVENT__PAYLOAD_ACTIVITY},
    [CX_EV_PROFILE_UPDATED] = {"profile.updated", CX__EVENT__PAYLOAD_PROFILE},
    [CX_EV_CONSENT_GRANTED] = {"consent.granted", CX__EVENT__PAYLOAD_CONSENT},
    [CX_EV_CONSENT_REVOKED] = {"consent.revoked", CX__EVENT__PAYLOAD_CONSENT},
    [CX_EV_OFFER_MADE] = {"offer.made", CX__EVENT__PAYLOAD_OFFER},
    [CX_EV_OFFER_ACCEPTED] = {"offer.accepted", CX__EVENT__PAYLOAD_OFFER},
    [CX_EV_CUSTOMER_ERASE] = {"customer.erase", CX__EVENT__PAYLOAD_ERASE},
};

cx_event_type_t cx_event_type_parse(const char *s)
{
    if (!s) return CX_EV_UNKNOWN;
    for (int t = 1; t < CX_EV_COUNT; t++)
        if (strcmp(s, s_types[t].name) == 0) return (cx_event_type_t)t;
    return CX_EV_UNKNOWN;
}

const char *cx_event_type_name(cx_event_type_t t)
{
    return (t > CX_EV_UNKNOWN && t < CX_EV_COUNT) ? s_types[t].name : "unknown";
}

int cx_event_type_payload(cx_event_type_t t)
{
    return (t > CX_EV_UNKNOWN && t < CX_EV_COUNT) ? s_types[t].payload
                                                  : CX__EVENT__PAYLOAD__NOT_SET;
}

int64_t cx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int cx_time_parse(const char *s, int64_t *out_us)
{
    if (!s || !out_us) return CX_E_BAD_TIME;
    int Y, M, D, h = 0, m = 0, sec = 0;
    const char *p = s;
    if (s_digits(&p, 4, &Y) || *p++ != '-' || s_digits(&p, 2, &M) || *p++ != '-' ||
        s_digits(&p, 2, &D))
        return CX_E_BAD_TIME;
    if (*p != 'T' && *p != 't' && *p != ' ') return CX_E_BAD_TIME;
    p++;
    if (s_digits(&p, 2, &h) || *p++ != ':' || s_digits(&p, 2, &m) || *p++ != ':' ||
        s_digits(&p, 2, &sec))
        return CX_E_BAD_TIME;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 6) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0) return CX_E_BAD_TIME;
        while (nd++ < 6)
            frac *= 10;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (s_digits(&p, 2, &oh) || *p++ != ':' || s_digits(&p, 2, &om) || oh > 23 || om > 59)
            return CX_E_BAD_TIME;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return CX_E_BAD_TIME;
    }
    if (*p != '\0') return CX_E_BAD_TIME;
    if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return CX_E_BAD_TIME;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap)) return CX_E_BAD_TIME;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *out_us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

int cx_time_format(int64_t us, char *buf, size_t len)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return CX_E_INVAL;
    int n = frac ? snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                            (long long)frac)
                 : snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return (n < 0 || (size_t)n >= len) ? CX_E_INVAL : 0;
}
