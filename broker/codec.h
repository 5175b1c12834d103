/* codec.h - decoding and validating what publishers send.
 *
 * Everything from the wire passes here before anything else looks at it. A
 * rejection is a CX_E_* code plus a reason text naming the field, which the
 * broker sends back in a Nack.
 */
#ifndef CX_CODEC_H
#define CX_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cx_arena.h"
#include "event.pb-c.h"

#define CX_MAX_ID_LEN 128         /* event_id, customer_id, goal_id, offer_id, scope, ... */
#define CX_MAX_TEXT_LEN 1024      /* title, attribute values, names */
#define CX_MAX_PROFILE_ENTRIES 64 /* sets, and unsets, in one profile.updated */

/* Unpacks an encoded cx.Event of len bytes into the arena.
 * 0 and *out, or CX_E_TOO_LARGE (len > max_bytes: "event is 70000 bytes, limit
 * 65536") / CX_E_BAD_PROTOBUF (truncated or malformed) / CX_E_BAD_STRING (a
 * string field holds a NUL byte: protobuf-c would cut the C string there, so
 * validation would see less than what is logged and delivered) / CX_E_INVAL
 * (arena or out NULL, data NULL with len > 0), with reason (a static string or
 * one in the arena; reason may be NULL). The event lives in the arena. */
int cx_codec_decode_event(const uint8_t *data, size_t len, size_t max_bytes, cx_arena_t *arena,
                          Cx__Event **out, const char **reason);

/* Checks an event: event_id and customer_id present and sane IDs, known type,
 * the payload the type needs (customer.erase: an erase payload or none) with its
 * required fields (goal_id for goal.*, goal_id and name for milestones, name for
 * activities, scope for consents, offer_id for offers, key for attributes), every
 * string valid UTF-8 without control characters (C0, DEL, C1) and within its
 * length bound (ids, keys, scopes, categories, source: CX_MAX_ID_LEN; titles,
 * names, values, reasons: CX_MAX_TEXT_LEN), required strings non-empty, times not
 * negative, target and progress finite and not negative, and a profile with at
 * most CX_MAX_PROFILE_ENTRIES sets and as many unsets.
 * 0, or CX_E_MISSING_FIELD / CX_E_UNKNOWN_TYPE / CX_E_BAD_STRING /
 * CX_E_PAYLOAD_MISMATCH / CX_E_BAD_VALUE (CX_E_INVAL for ev NULL) with a reason
 * naming the field: "missing field: customer_id", "unknown event type
 * 'goal.exploded'", "payload does not match type milestone.reached: expected
 * milestone", "bad string in goal.title: not valid UTF-8", "bad value in
 * goal.target: not a finite number". The reason is written to buf (buflen bytes,
 * 256 is plenty) and *reason points to it; with no buf, *reason is the code's
 * generic cx_strerror text. reason may be NULL. Nothing is allocated. */
int cx_codec_validate(const Cx__Event *ev, char *buf, size_t buflen, const char **reason);

/* true if s is non-empty, at most max bytes, valid UTF-8, with no control characters. */
bool cx_codec_is_sane_string(const char *s, size_t max);

#endif
