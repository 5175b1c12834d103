/* cx_event.h - event types and times, shared by the broker and its clients. */
#ifndef CX_EVENT_H
#define CX_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CX_EV_UNKNOWN = 0,
    CX_EV_GOAL_SET,          /* "goal.set"          payload goal */
    CX_EV_GOAL_UPDATED,      /* "goal.updated"      payload goal */
    CX_EV_GOAL_COMPLETED,    /* "goal.completed"    payload goal (goal_id) */
    CX_EV_GOAL_ABANDONED,    /* "goal.abandoned"    payload goal (goal_id) */
    CX_EV_MILESTONE_REACHED, /* "milestone.reached" payload milestone */
    CX_EV_ACTIVITY,          /* "activity"          payload activity */
    CX_EV_PROFILE_UPDATED,   /* "profile.updated"   payload profile */
    CX_EV_CONSENT_GRANTED,   /* "consent.granted"   payload consent */
    CX_EV_CONSENT_REVOKED,   /* "consent.revoked"   payload consent */
    CX_EV_OFFER_MADE,        /* "offer.made"        payload offer */
    CX_EV_OFFER_ACCEPTED,    /* "offer.accepted"    payload offer (offer_id) */
    CX_EV_CUSTOMER_ERASE,    /* "customer.erase"    payload erase (may be absent) */
    CX_EV_COUNT
} cx_event_type_t;

/* The type named by s, or CX_EV_UNKNOWN (also for NULL). */
cx_event_type_t cx_event_type_parse(const char *s);
/* The wire name of t ("goal.set"), or "unknown". */
const char *cx_event_type_name(cx_event_type_t t);
/* The Cx__Event__PayloadCase value an event of type t must carry. */
int cx_event_type_payload(cx_event_type_t t);

/* Wall clock, microseconds since the Unix epoch. */
int64_t cx_now_us(void);
/* Parses RFC 3339 ("2027-06-01T00:00:00Z", "2027-06-01T09:30:00.250+02:00") into
 * microseconds since the epoch. 0 or CX_E_BAD_TIME. */
int cx_time_parse(const char *s, int64_t *out_us);
/* Formats us as RFC 3339 UTC ("2027-06-01T00:00:00Z", or with .ffffff when the
 * microseconds are not zero) into buf. 0, or CX_E_INVAL if len is too small (32 is enough). */
int cx_time_format(int64_t us, char *buf, size_t len);

#endif
