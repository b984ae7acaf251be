// The HTTP status of a Status, shared by every HTTP front end (OpenAI, Ollama, MCP, admin), so
// that the same failure gets the same status whatever the protocol's error body looks like.
#pragma once

#include "base/status.h"

namespace llmux::http {

// 400 bad arguments (and unimplemented features), 401, 403, 404, 409, 429 (limits, full
// queues), 503, 504, else 500; 200 for OK.
int HttpStatusFor(const Status& status);

}  // namespace llmux::http
