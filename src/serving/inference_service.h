// The protocol-neutral core API that every front end (OpenAI HTTP, gRPC, MCP) calls: one
// internal request type in, a stream of deltas out. Front ends only parse, call this and
// format; templating, tool-call parsing, stop strings and the engine live behind it.
//
// Threading: Chat/Complete validate synchronously and return an error before any callback
// (unknown model -> kNotFound, bad values or a prompt longer than the context ->
// kInvalidArgument, queue full -> kResourceExhausted). After a successful return the sink
// gets zero or more OnDelta calls then exactly one OnFinish, from the engine's thread;
// sinks must not block (post to your own executor). Cancel() is thread-safe and idempotent;
// generation stops within one decode step and OnFinish still arrives (reason kCancelled).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/chat_types.h"

namespace llmux::serving {

struct SamplingOptions {
  std::optional<float> temperature;  // unset: the model default (1.0 like OpenAI)
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> min_p;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  std::optional<uint32_t> seed;
};

// kJsonSchema: the output is one JSON value valid against ChatRequest::json_schema; kGrammar:
// a text of ChatRequest::grammar (GBNF). Both are compiled (and cached) by the local service.
enum class ResponseFormat { kText, kJsonObject, kJsonSchema, kGrammar };
// The most bytes of a JSON schema or grammar text in a request.
inline constexpr size_t kMaxResponseFormatBytes = 128 * 1024;
enum class ToolChoiceMode { kAuto, kNone, kRequired, kFunction };

struct ToolChoice {
  ToolChoiceMode mode = ToolChoiceMode::kAuto;
  std::string function_name;  // kFunction only
};

struct GenerationOptions {
  SamplingOptions sampling;
  std::optional<int> max_tokens;  // unset: until end of generation or context full
  std::vector<std::string> stop;  // up to 4; never emitted
  bool logprobs = false;
  int top_logprobs = 0;  // 0..20, only with logprobs
  std::string user;      // opaque, for logs
  // Whose share of the model's waiting queue the request counts against: set by the front end
  // from the authenticated caller (never from the request body); empty: no share.
  std::string caller_share;
  bool ignore_eos = false;  // generate max_tokens whatever comes (benchmarks; vLLM/llama.cpp field)
  // How long the model stays loaded after this request (Ollama's keep_alive, in seconds):
  // negative: until unloaded, 0: unloaded once the request ended. Acted on where models are
  // hosted in this process (not carried to workers); unset: the model's own keep-alive.
  std::optional<double> keep_alive_s;
  // Internal, never from a client: the tokens this request already generated and delivered
  // elsewhere (a gateway moving a stream to another worker after the first one failed). They
  // are replayed, not sent again; the stream goes on after them.
  std::vector<int32_t> resume_tokens;
};

struct ChatRequest {
  std::string model;
  std::vector<chat::Message> messages;
  std::vector<chat::Tool> tools;
  ToolChoice tool_choice;
  // False: at most one tool call per reply (generation stops after the first whole call).
  bool parallel_tool_calls = true;
  ResponseFormat response_format = ResponseFormat::kText;
  std::string json_schema;              // kJsonSchema: the schema as JSON text, key order kept
  bool json_schema_strict = false;      // kJsonSchema: unsupported keywords are errors
  std::string grammar;                  // kGrammar: GBNF text (llama.cpp's format)
  std::optional<bool> enable_thinking;  // chat_template_kwargs.enable_thinking
  GenerationOptions options;
};

struct CompletionRequest {
  std::string model;
  std::string prompt;
  GenerationOptions options;
};

struct TopLogprob {
  std::string token;  // the token's text (may be a partial UTF-8 sequence)
  float logprob = 0;
};

struct TokenLogprob {
  std::string token;
  float logprob = 0;
  std::vector<TopLogprob> top;  // top_logprobs entries, most likely first
};

// A tool call as it streams: the first delta of a call carries id and name, later ones
// append to arguments (JSON text).
struct ToolCallDelta {
  int index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

struct Delta {
  std::string reasoning;  // reasoning_content (Qwen3 <think> part)
  std::string content;
  std::vector<ToolCallDelta> tool_calls;
  std::vector<TokenLogprob> logprobs;  // tokens that produced this delta
  // Ids of the tokens generated since the previous delta, this one's included (a token whose
  // text is held back, e.g. as a possible stop string, rides with the next delta). Front ends
  // ignore it; a gateway keeps it to resume the stream elsewhere (resume_tokens).
  std::vector<int32_t> tokens;
  bool empty() const {
    return reasoning.empty() && content.empty() && tool_calls.empty() && logprobs.empty();
  }
};

enum class FinishReason { kStop, kLength, kToolCalls, kCancelled, kError };
const char* FinishReasonName(FinishReason reason);  // "stop", "length", "tool_calls", ...

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  int total_tokens() const { return prompt_tokens + completion_tokens; }
};

struct Finish {
  FinishReason reason = FinishReason::kStop;
  Usage usage;
  Status error;  // set when reason is kError (e.g. the engine failed mid-stream)
  // The stop sequence (GenerationOptions::stop) that ended generation; empty otherwise.
  std::string stop_sequence;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void OnDelta(const Delta& delta) = 0;
  virtual void OnFinish(const Finish& finish) = 0;
};

class RequestHandle {
 public:
  virtual ~RequestHandle() = default;
  virtual void Cancel() = 0;
};

struct ModelInfo {
  std::string id;            // the served name
  std::string architecture;  // general.architecture
  std::string quantization;  // most common weight type, e.g. "Q8_0"
  int context_length = 0;
  int64_t created = 0;  // unix seconds when loaded
  bool ready = false;   // false while loading
  // Filled where the weights are (a model served in this process); 0 where unknown (a model
  // behind a worker: the worker protocol does not carry them).
  int64_t size_bytes = 0;       // bytes of the weights (tensor data)
  int64_t parameter_count = 0;  // elements of every weight tensor
};

// Embeddings of one or more inputs (OpenAI /v1/embeddings, Ollama /api/embed). Each input is
// text or token ids; the model's GGUF pooling_type picks mean or last-token pooling (mean when
// the file names none).
struct EmbedInput {
  std::string text;
  std::vector<int32_t> tokens;  // used instead of text when not empty
};

struct EmbedRequest {
  std::string model;
  std::vector<EmbedInput> inputs;  // 1..kMaxEmbedInputs
  int dimensions = 0;              // > 0: keep the first `dimensions` values (Matryoshka)
  bool normalize = true;           // L2-normalize each vector (after truncation)
  bool truncate = false;           // cut an input longer than the context instead of refusing it
  std::string caller_share;        // as GenerationOptions::caller_share
};

inline constexpr int kMaxEmbedInputs = 256;

struct EmbedResult {
  std::vector<std::vector<float>> embeddings;  // one per input, in order
  int prompt_tokens = 0;
};

class InferenceService {
 public:
  virtual ~InferenceService() = default;
  virtual std::vector<ModelInfo> ListModels() const = 0;
  virtual bool Ready() const = 0;  // every model loaded
  virtual Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                                      std::shared_ptr<Sink> sink) = 0;
  virtual Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                          std::shared_ptr<Sink> sink) = 0;

  // Chat/Complete without holding the caller's thread: `done` gets what they would return
  // (a handle, or why the request was refused), once; the sink may get its first callbacks
  // before `done` runs. A service that answers at once (in this process) calls it here, on
  // the caller's thread; one that waits on the network first (a gateway waits until a worker
  // accepts) calls it later from a thread of its own. Front ends on an event loop or a gRPC
  // callback thread submit with these.
  using Submitted = std::function<void(Result<std::shared_ptr<RequestHandle>>)>;
  virtual void SubmitChat(ChatRequest request, std::shared_ptr<Sink> sink, Submitted done) {
    done(Chat(std::move(request), std::move(sink)));
  }
  virtual void SubmitComplete(CompletionRequest request, std::shared_ptr<Sink> sink, Submitted done) {
    done(Complete(std::move(request), std::move(sink)));
  }

  // A model's tokenizer: the ids of a text (special-token text becomes special tokens; BOS/EOS
  // are added as the vocabulary asks when add_special) and the text of ids (an id outside the
  // vocabulary is InvalidArgument). Services without the model's vocabulary answer
  // Unavailable; one that cannot tokenize at all, Unimplemented.
  virtual Result<std::vector<int32_t>> Tokenize(const std::string& model, std::string_view text,
                                                bool add_special) const {
    return UnimplementedError("this server does not tokenize");
  }
  virtual Result<std::string> Detokenize(const std::string& model,
                                         std::span<const int32_t> ids) const {
    return UnimplementedError("this server does not detokenize");
  }

  // How many tokens the request's chat prompt has, rendered exactly as Chat renders it (tools,
  // tool_choice and enable_thinking included): for clients that count before they send.
  virtual Result<int> CountChatTokens(const ChatRequest& request) const {
    return UnimplementedError("this server does not count chat tokens");
  }

  // Tokenize, Detokenize and CountChatTokens without holding the caller's thread, as SubmitChat:
  // a service that loads models on demand loads the model first (the wait counts against
  // `caller_share`, as GenerationOptions::caller_share; request.options.caller_share for the
  // count). `done` runs once, now on the caller's thread or later on another; it must not block.
  using Tokenized = std::function<void(Result<std::vector<int32_t>>)>;
  virtual void SubmitTokenize(std::string model, std::string text, bool add_special,
                              std::string caller_share, Tokenized done) {
    done(Tokenize(model, text, add_special));
  }
  using Detokenized = std::function<void(Result<std::string>)>;
  virtual void SubmitDetokenize(std::string model, std::vector<int32_t> ids,
                                std::string caller_share, Detokenized done) {
    done(Detokenize(model, ids));
  }
  using Counted = std::function<void(Result<int>)>;
  virtual void SubmitCountChatTokens(ChatRequest request, Counted done) {
    done(CountChatTokens(request));
  }

  // Runs every input through the model and calls `done` once with the vectors or why not
  // (InvalidArgument with the field "input" or "dimensions", NotFound for the model,
  // ResourceExhausted when the caller's share of the queue is taken). `done` may run on the
  // caller's thread or on an engine thread; it must not block.
  using Embedded = std::function<void(Result<EmbedResult>)>;
  virtual void SubmitEmbed(EmbedRequest request, Embedded done) {
    done(UnimplementedError("this server does not compute embeddings"));
  }
};

}  // namespace llmux::serving
