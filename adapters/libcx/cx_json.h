/* cx_json.h - one JSON <-> protobuf mapping for every cxbroker message.
 *
 * Driven by protobuf-c's descriptors, so a new field in a .proto needs no code
 * here. JSON keys are the .proto field names. Mapping by field type:
 *   string              JSON string
 *   bool                true / false
 *   int32/uint32/int64/uint64, double/float   JSON number (integers must be integral)
 *   sfixed64            a time: RFC 3339 string ("2027-06-01T00:00:00Z"); an integer
 *                       (microseconds since the epoch) is accepted on input too
 *   bytes               base64 string
 *   enum                the value's name as a string
 *   message             JSON object;  repeated: JSON array
 *   oneof member        its own key; at most one member of a oneof may be given
 * On output, absent optional fields (has_x false, NULL strings/messages) and empty
 * repeated fields are left out.
 */
#ifndef CX_JSON_H
#define CX_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* A new JSON object for msg (caller owns: json_decref), or NULL on OOM. */
json_t *cx_json_from_message(const ProtobufCMessage *msg);

/* Builds a message of type desc from a JSON object.
 * alloc: where the message's memory comes from (NULL: malloc; free the result
 * with protobuf_c_message_free_unpacked(*out, NULL)).
 * 0 and *out, or CX_E_JSON with err filled, e.g. "goal.deadline: invalid time
 * 'tomorrow': expected RFC 3339" or "unknown field 'colour'"; CX_E_NOMEM. */
int cx_json_to_message(const json_t *json, const ProtobufCMessageDescriptor *desc,
                       ProtobufCAllocator *alloc, ProtobufCMessage **out, char *err,
                       size_t errlen);

#endif
