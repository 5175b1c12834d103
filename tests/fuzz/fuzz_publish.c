/* fuzz_publish.c - libFuzzer target: one publish frame as the ingest sees it.
 *
 * bytes -> cx.Publish -> its event field -> decode -> validate. The outer
 * message is what arrives on the publish socket; the event inside is what the
 * broker would log. Never crash, and every refusal carries a reason.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec.h"
#include "cx_error.h"
#include "wire.pb-c.h"

#define S_LIMIT 65536

static cx_arena_t *s_arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_arena && !(s_arena = cx_arena_new(0))) abort();
    cx_arena_reset(s_arena);

    Cx__Publish *pub = cx__publish__unpack(cx_arena_allocator(s_arena), size, data);
    if (!pub) return 0;
    /* what ingest checks on the envelope before it looks inside */
    if (pub->producer_id) (void)cx_codec_is_sane_string(pub->producer_id, CX_MAX_ID_LEN);
    if (pub->partner) (void)cx_codec_is_sane_string(pub->partner, CX_MAX_ID_LEN);
    if (!pub->has_event) return 0;

    Cx__Event *ev = NULL;
    const char *reason = NULL;
    char buf[256];
    int rc = cx_codec_decode_event(pub->event.data, pub->event.len, S_LIMIT, s_arena, &ev, &reason);
    if (rc) {
        if (rc > 0 || ev || !reason) abort();
        return 0;
    }
    rc = cx_codec_validate(ev, buf, sizeof(buf), &reason);
    if (rc && (rc > 0 || !reason || !*reason)) abort();
    return 0;
}
