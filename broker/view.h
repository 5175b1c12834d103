/* view.h - a partner's view of a customer context, taken from its encoding.
 *
 * Delivery sends each partner the customer's context as it is now, filtered to
 * the partner's `sees`, once it has checked the partner's consent. Done on the
 * unpacked message that costs an unpack of the whole context and a pack of the
 * filtered copy per delivery, which was a third of the broker's time under load
 * (docs/benchmarks.md). These two do the same on the encoded bytes: walk the
 * fields, keep the ones the partner may see, copy them. They follow the rules
 * of cx_router_has_consent() and cx_router_filter_context() exactly; for bytes
 * protobuf-c packed, the filtered bytes equal pack(filter(unpack(bytes)))
 * (tests/unit/test_view.c, tests/fuzz/fuzz_view.c).
 *
 * Field numbers come from the generated descriptors, by name, so the schema
 * stays the one source of truth.
 */
#ifndef CX_VIEW_H
#define CX_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* *out = what cx_router_has_consent(partner, unpack(data), now_us) would say.
 * 0, or CX_E_BAD_PROTOBUF if data[0..len) is not a well-formed cx.CustomerContext
 * where the check has to look, or CX_E_INVAL for a NULL partner or out. */
int cx_view_has_consent(const cx_partner_cfg_t *partner, const uint8_t *data, size_t len,
                        int64_t now_us, bool *out);

/* Writes to out the encoding of what the partner may see of the context encoded
 * in data[0..len) (cx_router_filter_context's rules: customer_id, version and
 * updated_at always, the rest by `sees`, unknown fields dropped at every level)
 * and its length to *out_len. out must have room for len bytes: a view is never
 * longer than the context. 0, CX_E_BAD_PROTOBUF (malformed where the filter has
 * to look; *out_len is then 0), or CX_E_INVAL for a NULL argument. */
int cx_view_filter(const cx_partner_cfg_t *partner, const uint8_t *data, size_t len, uint8_t *out,
                   size_t *out_len);

/* The customer_id of the encoded cx.Event data[0..len) (the last one, as an
 * unpack keeps it) as a C string in out (cap bytes), read without decoding the
 * event: delivery finds the context it needs this way. 0, CX_E_MISSING_FIELD
 * (none, or longer than cap - 1), CX_E_BAD_PROTOBUF, or CX_E_INVAL. */
int cx_view_event_customer(const uint8_t *data, size_t len, char *out, size_t cap);

/* Writes to out (room for 16 + strlen(customer_id) bytes) the encoding of a
 * context holding just customer_id: an unknown or erased customer's. Returns
 * its length. */
size_t cx_view_empty_context(const char *customer_id, uint8_t *out);

/* The field number of the message field `name` of desc, 0 if there is none. For
 * callers that frame a view into a bigger message by hand (delivery.c). */
uint32_t cx_view_field_number(const void *descriptor, const char *name);

/* Writes v as a protobuf varint to out (room for 10 bytes); returns its length. */
size_t cx_view_put_varint(uint8_t *out, uint64_t v);

#endif
