// Value checks shared by every front end, so that HTTP, gRPC and MCP refuse the same
// requests with the same messages. Errors are InvalidArgument with field() naming the
// request field (OpenAI's `param`).
#pragma once

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::serving {

Status ValidateGenerationOptions(const GenerationOptions& options);
Status ValidateChatRequest(const ChatRequest& request);
Status ValidateCompletionRequest(const CompletionRequest& request);

}  // namespace llmux::serving
