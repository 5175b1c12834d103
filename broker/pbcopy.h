/* pbcopy.h - deep copies of protobuf-c messages.
 *
 * The context cache keeps each customer's context unpacked and immutable;
 * ingest changes a private deep copy in its own arena, which the cache then
 * owns. Driven by the descriptors, like the JSON mapping, so a new field needs
 * no code here.
 */
#ifndef CX_PBCOPY_H
#define CX_PBCOPY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Deep copy of msg with a protobuf-c allocator (e.g. an arena's); NULL on OOM.
 * The copy shares nothing with msg. */
ProtobufCMessage *cx_pb_copy(const ProtobufCMessage *msg, ProtobufCAllocator *alloc);

#endif
