// libFuzzer target: the Anthropic Messages API request parsers
// (src/gateway/anthropic/anthropic_request.h) on arbitrary bodies: /v1/messages and
// /v1/messages/count_tokens. A refusal must be InvalidArgument with a message; an accepted
// request must pass the serving core's own checks and name a model.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "gateway/anthropic/anthropic_request.h"
#include "json_mutator.h"
#include "serving/request_validation.h"

namespace {

using llmux::StatusCode;
namespace gw = llmux::gateway;

void CheckRefusal(const llmux::Status& s) {
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, "a refused body is InvalidArgument");
  FUZZ_CHECK(!s.message().empty(), "a refusal says why");
}

void CheckMessages(std::string_view body) {
  auto parsed = gw::ParseMessagesRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  FUZZ_CHECK(parsed->request.options.max_tokens && *parsed->request.options.max_tokens >= 1,
             "an accepted message has max_tokens");
  FUZZ_CHECK(!parsed->request.messages.empty(), "an accepted message has messages");
  FUZZ_CHECK(llmux::serving::ValidateChatRequest(parsed->request).ok(),
             "an accepted request is valid");
}

void CheckCount(std::string_view body) {
  auto parsed = gw::ParseCountTokensRequest(body);
  if (!parsed.ok()) return CheckRefusal(parsed.status());
  FUZZ_CHECK(llmux::serving::ValidateChatRequest(*parsed).ok(), "an accepted count is valid");
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  CheckMessages(body);
  CheckCount(body);
  return 0;
}
