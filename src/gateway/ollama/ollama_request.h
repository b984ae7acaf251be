// Ollama request bodies (JSON, as Ollama 0.6+ takes them) to the serving core's request types.
// Every type or value error comes back as InvalidArgument naming the offending field, so the
// routes can answer with Ollama's {"error": "..."}. Unknown fields and unknown `options` are
// ignored, as Ollama does; what llmux cannot do (images, a template override, a JSON schema
// for `format`) is refused with a clear message rather than silently dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// keep_alive: how long the model should stay loaded after the call. nullopt: not given;
// negative: forever; 0: unload now.
using KeepAlive = std::optional<int64_t>;

struct OllamaChatCall {
  serving::ChatRequest request;
  bool stream = true;  // Ollama streams unless told otherwise
  KeepAlive keep_alive;
  // No messages: Ollama's "load the model" call, answered without generating.
  bool load_only = false;
};

struct OllamaGenerateCall {
  // raw: the prompt goes to the model as it is (a completion); otherwise it is the user turn
  // of a chat (with `system` as the system turn) rendered by the model's chat template.
  bool raw = false;
  serving::ChatRequest chat;              // when !raw
  serving::CompletionRequest completion;  // when raw
  bool stream = true;
  KeepAlive keep_alive;
  bool load_only = false;  // no prompt: the "load the model" call
  const std::string& model() const { return raw ? completion.model : chat.model; }
};

Result<OllamaChatCall> ParseOllamaChatRequest(std::string_view body);
Result<OllamaGenerateCall> ParseOllamaGenerateRequest(std::string_view body);
// POST /api/embed: {"model", "input": string | [string], "truncate" (default true),
// "dimensions", "keep_alive", "options"}; vectors are L2-normalized as Ollama's are.
// POST /api/embeddings (the older route): {"model", "prompt"}, one vector, not normalized.
struct OllamaEmbedCall {
  serving::EmbedRequest request;
  KeepAlive keep_alive;
};
Result<OllamaEmbedCall> ParseOllamaEmbedRequest(std::string_view body);
Result<OllamaEmbedCall> ParseOllamaLegacyEmbeddingsRequest(std::string_view body);

// POST /api/show: the model's name (`model`, or the older `name`).
Result<std::string> ParseOllamaShowRequest(std::string_view body);

// A model name as Ollama clients send it to the served name: "stories:latest" -> "stories"
// (Ollama's default tag); any other name is kept as it is.
std::string ServedModelName(std::string_view name);

// keep_alive's text form: a Go duration ("5m", "1h30m", "10s", "-1m") or a number of
// seconds ("300", "-1"). Errors are InvalidArgument naming keep_alive.
Result<int64_t> ParseKeepAliveText(std::string_view text);

}  // namespace llmux::gateway
