/* cx_json.h - one JSON <-> protobuf mapping for every cxbroker message.
 *
 * Driven by protobuf-c's descriptors, so a new field in a .proto needs no code
 * here. JSON keys are the .proto field names. Mapping by field type:
 *   string              JSON string (a NUL character inside is refused)
 *   bool                true / false
 *   int32/uint32/int64/uint64   JSON number, integral (3 and 3.0 are accepted, 3.5 is
 *                       not) and in the type's range. A uint64 above 2^63-1, which
 *                       jansson cannot hold as an integer, is written as a decimal
 *                       string ("18446744073709551615"), and such strings are accepted
 *   double/float        JSON number; NaN and infinities as "NaN", "Infinity", "-Infinity"
 *   sfixed64            a time: RFC 3339 string ("2027-06-01T00:00:00Z", any offset on
 *                       input, always UTC on output); an integer (microseconds since
 *                       the epoch) is accepted on input too, and is what is written for
 *                       a time outside 1970-01-01..9999-12-31, which RFC 3339 input
 *                       here cannot express
 *   bytes               standard base64 string, padded (padding optional on input)
 *   enum                the value's name as a string (an integer for a value the
 *                       descriptor does not know, and accepted on input)
 *   message             JSON object;  repeated: JSON array
 *   oneof member        its own key; at most one member of a oneof may be given
 * On input, a key whose value is null counts as absent. On output, absent
 * optional fields (has_x false, NULL strings/messages) and empty repeated fields
 * are left out, so cx_json_from_message of a message that cx_json_to_message
 * built gives back the same JSON (numbers aside: 3.0 for a double comes back
 * as a real, a time with an offset comes back in UTC).
 */
#ifndef CX_JSON_H
#define CX_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A new JSON object for msg (caller owns: json_decref), or NULL on OOM or when
 * msg is NULL. Never fails on content: a string from the wire that is not
 * UTF-8 is written with U+FFFD in place of the bad bytes. */
json_t *cx_json_from_message(const ProtobufCMessage *msg);

/* Builds a message of type desc from a JSON object.
 * alloc: where every byte of the message comes from (alloc->alloc), e.g.
 * cx_arena_allocator(); NULL: malloc, so free the result with
 * protobuf_c_message_free_unpacked(*out, NULL). Each message is initialised
 * with its descriptor's message_init.
 * Returns 0 and sets *out; or, with *out NULL and nothing left allocated
 * (a half-built message is released through alloc->free):
 *   CX_E_JSON   err says where and what, as "<path>: <problem>", the path
 *               running from the top message, e.g.
 *               "goal.deadline: invalid time 'tomorrow': expected RFC 3339",
 *               "goals[1].milestones[0].progress: expected a number, got a string";
 *               a problem with the top object itself names the message in
 *               snake case: "event: unknown field 'colour'",
 *               "event: 'goal' and 'milestone' are members of one oneof: give at most one"
 *   CX_E_NOMEM  allocation failed
 *   CX_E_INVAL  json, desc or out is NULL
 * err (errlen bytes, may be NULL/0) is always NUL-terminated when errlen > 0,
 * and empty on success. */
int cx_json_to_message(const json_t *json, const ProtobufCMessageDescriptor *desc,
                       ProtobufCAllocator *alloc, ProtobufCMessage **out, char *err, size_t errlen);

/* JSON text (len bytes, need not be NUL-terminated) straight to a message:
 * json_loadb then cx_json_to_message, with the same alloc, ownership and
 * return codes. A syntax error, or a key given twice in one object, is
 * CX_E_JSON with err as "line 1, column 9: <jansson's text>". */
int cx_json_parse_message(const char *text, size_t len, const ProtobufCMessageDescriptor *desc,
                          ProtobufCAllocator *alloc, ProtobufCMessage **out, char *err,
                          size_t errlen);

#endif
