// The protocol status of a Status, one table per protocol for every front end: the HTTP status
// (http::HttpStatusFor, shared with the HTTP server's own replies) and the gRPC code.
#pragma once

#include "base/status.h"
#include "net/http/http_status.h"

namespace llmux::gateway {

using http::HttpStatusFor;
// The number of the grpc::StatusCode (OK 0, CANCELLED 1, ... UNAUTHENTICATED 16).
int GrpcCodeFor(const Status& status);

// What a call's outcome records when the client went away (or cancelled): nginx's 499, and
// gRPC's CANCELLED.
inline constexpr int kHttpClientClosed = 499;
inline constexpr int kGrpcCancelled = 1;

}  // namespace llmux::gateway
