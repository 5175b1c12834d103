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

#define CX_MAX_ID_LEN 128      /* event_id, customer_id, goal_id, offer_id, scope, ... */
#define CX_MAX_TEXT_LEN 1024   /* title, attribute values, names */

/* Unpacks an encoded cx.Event of len bytes into the arena.
 * 0 and *out, or CX_E_TOO_LARGE (len > max_bytes) / CX_E_BAD_PROTOBUF with
 * reason (a static string or one in the arena). */
int cx_codec_decode_event(const uint8_t *data, size_t len, size_t max_bytes, cx_arena_t *arena,
                          Cx__Event **out, const char **reason);

/* Checks an event: event_id and customer_id present and sane IDs, known type,
 * the payload the type needs with its required fields (goal_id for goal.*,
 * goal_id and name for milestones, scope for consents, offer_id for offers, key
 * for attributes), every string valid UTF-8 without control characters and
 * within its length bound, times not negative, numbers finite.
 * 0, or CX_E_MISSING_FIELD / CX_E_UNKNOWN_TYPE / CX_E_BAD_STRING /
 * CX_E_PAYLOAD_MISMATCH / CX_E_BAD_VALUE with reason, e.g.
 * "missing field: customer_id" (reason may be written to buf of buflen bytes). */
int cx_codec_validate(const Cx__Event *ev, char *buf, size_t buflen, const char **reason);

/* true if s is non-empty, at most max bytes, valid UTF-8, with no control characters. */
bool cx_codec_is_sane_string(const char *s, size_t max);

#endif
