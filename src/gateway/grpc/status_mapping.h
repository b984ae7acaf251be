// llmux Status -> gRPC status, the same classes of error the HTTP API reports.
#pragma once
#include "base/status.h"

namespace grpc {
class Status;
}

namespace llmux::gateway {

// kInvalidArgument -> INVALID_ARGUMENT, kNotFound -> NOT_FOUND, kResourceExhausted ->
// RESOURCE_EXHAUSTED, kUnimplemented -> UNIMPLEMENTED, kOutOfRange -> OUT_OF_RANGE,
// kUnavailable -> UNAVAILABLE, kDeadlineExceeded -> DEADLINE_EXCEEDED, anything else ->
// INTERNAL. The message is kept; when status.field() is set and the message does not
// mention it, it is prefixed ("messages[1].role: unknown role ...") since gRPC has no
// separate `param`.
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace llmux::gateway
