/* fuzz_json.c - libFuzzer target for the JSON <-> protobuf mapping (cx_json.c).
 *
 * Any bytes -> json_loadb -> cx_json_to_message -> pack -> unpack ->
 * cx_json_from_message -> cx_json_to_message again. Beyond "no crash, no
 * leak" it checks the mapping's promise: JSON the mapping writes reads back
 * as the same message (the same packed bytes), and an arena-allocated build
 * equals the malloc one. cx.Event is the main target; the same input is also
 * tried as the wire messages that carry bytes, uint64, int32, bool and oneofs
 * (BrokerMsg, PartnerMsg, AdminReply), which no Event field has.
 * Bytes that are not JSON are tried as an encoded cx.Event instead, for the
 * other direction: whatever protobuf-c unpacks (strings that are not UTF-8,
 * NaN, times out of range) cx_json_from_message must write as JSON that
 * cx_json_to_message reads back.
 */
#include "cx_arena.h"
#include "cx_json.h"
#include "event.pb-c.h"
#include "wire.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_json: %s\n", what);
    abort();
}

/* The packed bytes of msg (caller frees), length in *len. */
static uint8_t *s_pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len ? *len : 1);
    s_check(buf != NULL, "out of memory");
    s_check(protobuf_c_message_pack(msg, buf) == *len, "pack wrote a different size");
    return buf;
}

static void s_one(const json_t *json, const ProtobufCMessageDescriptor *desc, cx_arena_t *arena)
{
    char err[256];
    ProtobufCMessage *msg = NULL;
    int rc = cx_json_to_message(json, desc, NULL, &msg, err, sizeof err);
    if (rc != 0) {
        s_check(msg == NULL && err[0] != '\0', "an error without text, or with a message");
        return;
    }

    size_t len, len2;
    uint8_t *wire = s_pack(msg, &len);
    ProtobufCMessage *back = protobuf_c_message_unpack(desc, NULL, len, wire);
    s_check(back != NULL, "what cx_json_to_message built does not unpack");

    json_t *again = cx_json_from_message(back);
    s_check(again != NULL, "cx_json_from_message failed");
    ProtobufCMessage *msg2 = NULL;
    rc = cx_json_to_message(again, desc, NULL, &msg2, err, sizeof err);
    if (rc != 0) fprintf(stderr, "fuzz_json: re-reading our own JSON: %s\n", err);
    s_check(rc == 0, "JSON written by cx_json_from_message does not read back");
    uint8_t *wire2 = s_pack(msg2, &len2);
    s_check(len2 == len && memcmp(wire, wire2, len) == 0, "JSON round trip changed the message");
    free(wire2);

    ProtobufCMessage *in_arena = NULL;
    rc = cx_json_to_message(json, desc, cx_arena_allocator(arena), &in_arena, err, sizeof err);
    s_check(rc == 0, "arena build failed where the malloc one did not");
    wire2 = s_pack(in_arena, &len2);
    s_check(len2 == len && memcmp(wire, wire2, len) == 0, "arena build differs");
    free(wire2);
    cx_arena_reset(arena);

    protobuf_c_message_free_unpacked(msg2, NULL);
    json_decref(again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(wire);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void s_from_wire(const uint8_t *data, size_t size)
{
    ProtobufCMessage *msg = protobuf_c_message_unpack(&cx__event__descriptor, NULL, size, data);
    if (!msg) return;
    json_t *json = cx_json_from_message(msg);
    s_check(json != NULL, "cx_json_from_message failed on an unpacked event");
    char err[256];
    ProtobufCMessage *again = NULL;
    int rc = cx_json_to_message(json, &cx__event__descriptor, NULL, &again, err, sizeof err);
    if (rc != 0) fprintf(stderr, "fuzz_json: re-reading our own JSON: %s\n", err);
    s_check(rc == 0, "JSON written for an unpacked event does not read back");
    protobuf_c_message_free_unpacked(again, NULL);
    json_decref(json);
    protobuf_c_message_free_unpacked(msg, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cx_arena_t *arena;
    if (!arena) arena = cx_arena_new(0);
    s_check(arena != NULL, "out of memory");

    json_error_t jerr;
    json_t *json = json_loadb((const char *)data, size, 0, &jerr);
    if (!json) {
        s_from_wire(data, size);
        return 0;
    }
    s_one(json, &cx__event__descriptor, arena);
    s_one(json, &cx__broker_msg__descriptor, arena);
    s_one(json, &cx__partner_msg__descriptor, arena);
    s_one(json, &cx__admin_reply__descriptor, arena);
    json_decref(json);
    return 0;
}
