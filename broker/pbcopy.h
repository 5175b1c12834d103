/* pbcopy.h - deep copies of protobuf-c messages, sized exactly in advance.
 *
 * The context cache keeps each customer's context unpacked, as one immutable
 * block: cx_pb_copy_size() says how many bytes a copy needs, cx_pb_copy_into()
 * lays the copy out in such a block with a single malloc. Driven by the
 * descriptors, like the JSON mapping, so a new field needs no code here.
 */
#ifndef CX_PBCOPY_H
#define CX_PBCOPY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Bytes a deep copy of msg takes (every piece rounded up to 8). */
size_t cx_pb_copy_size(const ProtobufCMessage *msg);

/* Deep copy of msg laid out in block, which must hold cx_pb_copy_size(msg)
 * bytes and be 8-aligned. Returns the copy (at the start of block). The copy
 * shares nothing with msg; free the block to free it. */
ProtobufCMessage *cx_pb_copy_into(const ProtobufCMessage *msg, void *block);

/* Deep copy of msg with a protobuf-c allocator (e.g. an arena); NULL on OOM. */
ProtobufCMessage *cx_pb_copy(const ProtobufCMessage *msg, ProtobufCAllocator *alloc);

#endif
