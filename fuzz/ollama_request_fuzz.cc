// libFuzzer target: the Ollama request parsers (src/gateway/ollama/ollama_request.h) on arbitrary
// bodies: /api/chat, /api/generate and /api/show. A refusal must be InvalidArgument with a
// message; an accepted request that generates must pass the serving core's own checks, and an
// accepted keep_alive is -1 (forever) or a number of seconds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "gateway/ollama/ollama_request.h"
#include "json_mutator.h"
#include "serving/request_validation.h"

namespace {

using llmux::StatusCode;
namespace gw = llmux::gateway;

void CheckRefusal(const llmux::Status& s) {
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, "a refused body is InvalidArgument");
  FUZZ_CHECK(!s.message().empty(), "a refusal says why");
}

void CheckKeepAlive(const gw::KeepAlive& k) {
  FUZZ_CHECK(!k || *k >= -1, "keep_alive is -1 or a number of seconds");
}

void CheckChat(std::string_view body) {
  auto parsed = gw::ParseOllamaChatRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  CheckKeepAlive(parsed->keep_alive);
  FUZZ_CHECK(!parsed->request.model.empty(), "an accepted chat names a model");
  FUZZ_CHECK(parsed->load_only == parsed->request.messages.empty(),
             "only a chat without messages is a load");
  if (!parsed->load_only) {
    FUZZ_CHECK(llmux::serving::ValidateChatRequest(parsed->request).ok(),
               "an accepted chat request is valid");
  }
}

void CheckGenerate(std::string_view body) {
  auto parsed = gw::ParseOllamaGenerateRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  CheckKeepAlive(parsed->keep_alive);
  FUZZ_CHECK(!parsed->model().empty(), "an accepted generate names a model");
  if (parsed->load_only) return;
  if (parsed->raw) {
    FUZZ_CHECK(llmux::serving::ValidateCompletionRequest(parsed->completion).ok(),
               "a raw generate is valid");
  } else {
    FUZZ_CHECK(llmux::serving::ValidateChatRequest(parsed->chat).ok(),
               "a templated generate is valid");
    FUZZ_CHECK(parsed->chat.messages.back().role == "user", "the prompt is the user turn");
  }
}

void CheckShow(std::string_view body) {
  auto parsed = gw::ParseOllamaShowRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  FUZZ_CHECK(!parsed->empty(), "show names a model");
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  CheckChat(body);
  CheckGenerate(body);
  CheckShow(body);
  return 0;
}
