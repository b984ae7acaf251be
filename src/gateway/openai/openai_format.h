// Serving-core results to OpenAI response JSON: whole responses, streaming chunks (one SSE
// event each), the model list and the error object.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "net/http/http_status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// Identity of one response: its id ("chatcmpl-..."/"cmpl-..."), creation time and model.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
};

std::string NewResponseId(const char* prefix);  // prefix + 24 random hex digits
int64_t UnixNow();

// Accumulates deltas into a whole chat or completion response.
class ResponseAccumulator {
 public:
  void Add(const serving::Delta& delta);
  std::string ChatCompletionJson(const ResponseMeta& meta, const serving::Finish& finish,
                                 bool logprobs) const;
  std::string CompletionJson(const ResponseMeta& meta, const serving::Finish& finish,
                             bool logprobs, const std::string& echo_prefix) const;

 private:
  std::string reasoning_;
  std::string content_;
  std::vector<serving::ToolCallDelta> tool_calls_;  // merged by index
  std::vector<serving::TokenLogprob> logprobs_;
};

// One "data: {...}\n\n" SSE event per call.
std::string ChatChunkEvent(const ResponseMeta& meta, const serving::Delta& delta,
                           bool first, bool logprobs);
std::string ChatFinishEvent(const ResponseMeta& meta, const serving::Finish& finish);
std::string CompletionChunkEvent(const ResponseMeta& meta, const serving::Delta& delta,
                                 bool logprobs);
std::string CompletionFinishEvent(const ResponseMeta& meta, const serving::Finish& finish);
std::string UsageEvent(const ResponseMeta& meta, const char* object, const serving::Usage& usage);
std::string ErrorEvent(const Status& status);
inline constexpr const char* kDoneEvent = "data: [DONE]\n\n";

std::string ModelListJson(const std::vector<serving::ModelInfo>& models);
// /tokenize and /detokenize replies (vLLM's shape).
std::string TokenizeJson(const std::vector<int32_t>& tokens, int max_model_len);
// The /v1/embeddings reply: one {"object": "embedding", "index", "embedding"} per vector, the
// embedding an array of floats or, with base64, its little-endian float32 bytes in base64.
std::string EmbeddingsJson(const std::string& model, const serving::EmbedResult& result,
                           bool base64);
std::string DetokenizeJson(const std::string& prompt);

// OpenAI's error object; its HTTP status is http::HttpStatusFor's.
using http::HttpStatusFor;
std::string ErrorJson(const Status& status);
std::string ErrorJson(int http_status, const std::string& message);

}  // namespace llmux::gateway
