// libFuzzer target: the OpenAI request parsers (src/gateway/openai/openai_request.h) on arbitrary
// bodies: chat completions, completions and Responses-API requests. A refusal must be
// InvalidArgument with a message. A body that is accepted is written back as an OpenAI body
// (openai_request_json.h): that body must be accepted again and give the same request, so every
// field the parser keeps survives the trip and nothing is accepted that the parser itself would
// refuse.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "gateway/openai/openai_request.h"
#include "gateway/openai/responses_request.h"
#include "json_mutator.h"
#include "openai_request_json.h"
#include "serving/request_validation.h"

namespace {

using llmux::StatusCode;
namespace gw = llmux::gateway;

void CheckRefusal(const llmux::Status& s) {
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, "a refused body is InvalidArgument");
  FUZZ_CHECK(!s.message().empty(), "a refusal says why");
}

void CheckChat(std::string_view body) {
  auto parsed = gw::ParseChatCompletionRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  const llmux::serving::ChatRequest& r = parsed->request;
  FUZZ_CHECK(llmux::serving::ValidateChatRequest(r).ok(), "an accepted chat request is valid");
  for (const auto& m : r.messages) {
    FUZZ_CHECK(m.role != "developer", "developer is read as system");
  }
  const llmux::fuzz::Json written = llmux::fuzz::ChatRequestJson(*parsed);
  auto again = gw::ParseChatCompletionRequest(written.dump());
  FUZZ_CHECK(again.ok(), "the written-back chat request is accepted");
  FUZZ_CHECK(llmux::fuzz::ChatRequestJson(*again) == written, "the chat request survives the trip");
}

void CheckCompletion(std::string_view body) {
  auto parsed = gw::ParseCompletionRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  FUZZ_CHECK(!parsed->request.prompt.empty(), "an accepted completion has a prompt");
  FUZZ_CHECK(parsed->request.options.max_tokens.has_value(), "completions default max_tokens");
  const llmux::fuzz::Json written = llmux::fuzz::CompletionRequestJson(*parsed);
  auto again = gw::ParseCompletionRequest(written.dump());
  FUZZ_CHECK(again.ok(), "the written-back completion request is accepted");
  FUZZ_CHECK(llmux::fuzz::CompletionRequestJson(*again) == written,
             "the completion request survives the trip");
}

// Responses requests: input items become messages of the chat roles, tools the chat shape.
void CheckResponses(std::string_view body) {
  auto parsed = gw::ParseResponsesRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  const llmux::serving::ChatRequest& r = parsed->request;
  for (const auto& m : r.messages) {
    FUZZ_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant" || m.role == "tool",
               "input items become chat roles");
  }
  for (const auto& t : r.tools) FUZZ_CHECK(!t.name().empty(), "an accepted tool has a name");
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  CheckChat(body);
  CheckCompletion(body);
  CheckResponses(body);
  return 0;
}
