/* fuzz_wire - every wire message a peer can send us, as raw bytes.
 *
 * The broker unpacks PartnerMsg (deliver socket) and AdminRequest (admin
 * socket); libcx unpacks PublishReply and BrokerMsg from the broker. Each must
 * refuse garbage cleanly, and whatever unpacks must pack back to bytes that
 * unpack again to the same encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.pb-c.h"

/* true if m or a message inside it kept an unknown field numbered 0: protobuf-c
 * accepts that invalid field and cannot decode its own encoding of it (the
 * broker's codec refuses such events; see codec.c). */
static int s_has_field_zero(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (arr[j] && s_has_field_zero(arr[j])) return 1;
        } else {
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
            if (sub && s_has_field_zero(sub)) return 1;
        }
    }
    return 0;
}

static void s_roundtrip(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
    if (!m) return;
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *again = protobuf_c_message_unpack(desc, NULL, len, buf);
    if (!again) {
        if (!s_has_field_zero(m)) abort(); /* our own encoding must decode */
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    size_t len2 = protobuf_c_message_get_packed_size(again);
    uint8_t *buf2 = malloc(len2 ? len2 : 1);
    protobuf_c_message_pack(again, buf2);
    if (len2 != len || memcmp(buf, buf2, len) != 0) abort(); /* stable re-encoding */
    free(buf);
    free(buf2);
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_roundtrip(&cx__partner_msg__descriptor, data, size);
    s_roundtrip(&cx__admin_request__descriptor, data, size);
    s_roundtrip(&cx__publish_reply__descriptor, data, size);
    s_roundtrip(&cx__broker_msg__descriptor, data, size);
    return 0;
}
