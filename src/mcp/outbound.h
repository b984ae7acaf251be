// Where the messages of one incoming request go: notifications and server-to-client
// requests related to it (progress, log messages, sampling), then its one final response.
// Each transport implements it (an SSE stream or JSON body for HTTP, lines for stdio, a
// gRPC stream). Thread-safe: tools call it from engine threads.
#pragma once

#include "mcp/json_rpc.h"

namespace llmux::mcp {

class Outbound {
 public:
  virtual ~Outbound() = default;
  // A notification or request to the client, sent before the final response.
  virtual void Send(Json message) = 0;
  // The response (result or error), or null when there is none to send (the request was
  // cancelled, or the stream ends). Called exactly once; later Send calls are dropped.
  virtual void Finish(Json response) = 0;
};

}  // namespace llmux::mcp
