// Conversions between the llmux.v1 protobuf messages and the serving core's types.
// Requests are converted and validated in one step (the same rules and messages as HTTP);
// outgoing text is made valid UTF-8, which protobuf `string` fields require.
#pragma once
#include <string>
#include <string_view>

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::v1 {
class ChatRequest;
class CompleteRequest;
class ChatDelta;
class CompleteDelta;
class Finish;
class Model;
}  // namespace llmux::v1

namespace llmux::gateway {

// kInvalidArgument (with field() set) for malformed or out-of-range values: tool schemas
// that are not JSON objects, unknown enum values, n != 1, and every check of
// serving/request_validation.h, which the HTTP API applies too.
Result<serving::ChatRequest> ChatRequestFromProto(const v1::ChatRequest& proto);
Result<serving::CompletionRequest> CompletionRequestFromProto(const v1::CompleteRequest& proto);

void FillDelta(const serving::Delta& delta, v1::ChatDelta* out);
// Completions have no reasoning or tools: reasoning (if any) comes first, then content.
void FillDelta(const serving::Delta& delta, v1::CompleteDelta* out);
// Only for finish reasons a client sees (stop, length, tool_calls).
void FillFinish(const serving::Finish& finish, v1::Finish* out);
void FillModel(const serving::ModelInfo& info, v1::Model* out);

// `text` with every byte sequence that is not well-formed UTF-8 replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace llmux::gateway
