// Serving-core results to Ollama's response JSON: the NDJSON lines of /api/chat and
// /api/generate (each a JSON object and "\n"), the model list (/api/tags), the loaded models
// (/api/ps), /api/show, /api/version and Ollama's error object {"error": "..."}.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "serving/inference_service.h"

namespace llmux::gateway {

// What every line of one answer repeats: the model's name and when the answer started.
struct OllamaMeta {
  std::string model;
  std::string created_at;  // RFC 3339, UTC
};

// The durations Ollama reports with the last line, in nanoseconds.
struct OllamaTimings {
  int64_t total_ns = 0;        // request received -> last token
  int64_t load_ns = 0;         // received -> handed to the service (llmux keeps models loaded)
  int64_t prompt_eval_ns = 0;  // handed to the service -> first token (queue wait and prefill)
  int64_t eval_ns = 0;         // first token -> last token (decode)
};

// The text of one line, or of a whole answer when `Add`ed up.
struct OllamaPiece {
  std::string content;
  std::string thinking;
  std::vector<serving::ToolCallDelta> tool_calls;  // merged by index

  void Add(const serving::Delta& delta);
};

// One /api/chat line: done:false with `piece`; with `finish`, the last line (done:true,
// done_reason and the counts and durations).
std::string OllamaChatLine(const OllamaMeta& meta, const OllamaPiece& piece);
std::string OllamaChatDoneLine(const OllamaMeta& meta, const OllamaPiece& piece,
                               const serving::Finish& finish, const OllamaTimings& timings);
// The same for /api/generate (the text is in `response`).
std::string OllamaGenerateLine(const OllamaMeta& meta, const OllamaPiece& piece);
std::string OllamaGenerateDoneLine(const OllamaMeta& meta, const OllamaPiece& piece,
                                   const serving::Finish& finish, const OllamaTimings& timings);
// The answer to a call without messages or prompt: the model is loaded (done_reason "load").
std::string OllamaLoadedLine(const OllamaMeta& meta, bool chat);

// {"error": message} (and "\n" for a line inside a stream).
std::string OllamaErrorJson(const std::string& message);
std::string OllamaErrorLine(const std::string& message);

// /api/embed: {"model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"};
// /api/embeddings (older): {"embedding"}.
std::string OllamaEmbedJson(const std::string& model, const serving::EmbedResult& result,
                            int64_t total_ns);
std::string OllamaLegacyEmbeddingJson(const serving::EmbedResult& result);

std::string OllamaTagsJson(const std::vector<serving::ModelInfo>& models);
// When a loaded model will be unloaded for idleness, from the model manager's lifecycle.
struct OllamaExpiry {
  std::optional<double> expires_at;  // unix seconds; unset: never (Ollama's year 2318)
  int64_t size_bytes = 0;            // weights and KV cache; 0: the weights only
};
// Loaded models, each expiring as `expiry` says (a model without an entry: never).
std::string OllamaPsJson(const std::vector<serving::ModelInfo>& models,
                         const std::map<std::string, OllamaExpiry>& expiry = {});
std::string OllamaShowJson(const serving::ModelInfo& model);
// {"version": version}, with llmux's own version beside it when given.
std::string OllamaVersionJson(const std::string& version, const std::string& llmux_version = "");

// Helpers, public for tests.
std::string Rfc3339Utc(int64_t unix_seconds, int64_t nanos = 0);
std::string Rfc3339Now();
// Ollama's parameter_size: "260K", "7.2B", "8B"; "" when unknown (0).
std::string ParameterSizeText(int64_t parameters);
// The name clients see: the served name with Ollama's default tag (":latest") unless it
// has a tag of its own.
std::string OllamaModelName(const std::string& served);

}  // namespace llmux::gateway
