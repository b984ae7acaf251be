// The engine: one thread owns a model and runs the requests submitted to it; callers
// submit token ids and read results through callbacks. Requests run one at a time in
// arrival order (continuous batching replaces this loop in the batching issue).
//
// Callbacks run on the engine thread and must not block. For each accepted request the
// engine calls on_token for every generated token (also the end-of-generation token, with
// eog set and no text), then on_finish exactly once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/models/model.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/token_constraint.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

struct EngineOptions {
  int n_ctx = 4096;       // positions per sequence (clamped to the model's training context)
  int max_waiting = 256;  // queued requests beyond which Submit refuses
};

struct EngineRequest {
  std::vector<int32_t> prompt;  // at least one token
  SamplerParams sampling;
  int max_tokens = 0;     // <= 0: until end of generation or the context is full
  int top_logprobs = -1;  // < 0: no logprobs; 0..20: the chosen token's plus this many
  bool ignore_eog = false;  // keep going past end-of-generation tokens (benchmarks)
  std::unique_ptr<TokenConstraint> constraint;  // optional
};

struct TokenOutput {
  int32_t id = -1;
  std::string text;  // whole UTF-8 characters completed by this token (may be empty)
  bool eog = false;  // an end-of-generation token; it carries no text
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

enum class EngineFinishReason { kEndOfGeneration, kMaxTokens, kContextFull, kStopped, kCancelled, kError };

struct EngineFinish {
  EngineFinishReason reason = EngineFinishReason::kEndOfGeneration;
  int prompt_tokens = 0;
  int completion_tokens = 0;  // sampled tokens, the end-of-generation token included
  Status error;
};

struct EngineCallbacks {
  std::function<void()> on_start;  // the request left the queue (prefill begins)
  // Return false to stop generation (e.g. a stop string matched): finish reason kStopped.
  std::function<bool(const TokenOutput&)> on_token;
  std::function<void(const EngineFinish&)> on_finish;
};

class EngineTicket {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int running = 0;
  int waiting = 0;
};

class Engine {
 public:
  // Starts the engine thread. The tokenizer must outlive the engine.
  Engine(std::unique_ptr<Model> model, const Tokenizer& tokenizer, EngineOptions options);
  ~Engine();  // cancels everything still queued or running, then joins
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks the request (prompt length against the context, token ids in range) and
  // queues it. Errors: InvalidArgument (field "messages"/"prompt" is the caller's to set),
  // ResourceExhausted when the queue is full or the engine is stopping.
  Result<std::shared_ptr<EngineTicket>> Submit(EngineRequest request, EngineCallbacks callbacks);

  // Stops taking requests; queued ones finish as cancelled, the running one runs on.
  void StopAccepting();
  // Waits until nothing is queued or running, up to `timeout_ms`; true if idle.
  bool WaitIdle(int timeout_ms);

  EngineStats stats() const;
  int n_ctx() const { return n_ctx_; }
  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  struct Job {
    EngineRequest request;
    EngineCallbacks callbacks;
    std::shared_ptr<EngineTicket> ticket;
  };

  void Loop();
  EngineFinish Run(Job& job);

  std::unique_ptr<Model> model_;
  const Tokenizer& tokenizer_;
  EngineOptions options_;
  int n_ctx_ = 0;
  std::unique_ptr<KvCache> cache_;
  std::vector<float> logits_;
  std::vector<float> raw_logits_;  // copy for logprobs (the sampler edits logits in place)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Job> queue_;
  bool running_job_ = false;
  bool accepting_ = true;
  bool shutdown_ = false;
  std::thread thread_;
};

const char* EngineFinishReasonName(EngineFinishReason reason);

}  // namespace llmux
