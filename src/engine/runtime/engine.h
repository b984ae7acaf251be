// The engine: one thread owns a model and runs the requests submitted to it; callers
// submit token ids and read results through callbacks. It batches continuously: each step,
// the Scheduler picks the decode tokens of the running sequences and chunks of prefill
// under a token budget, and one ForwardBatch runs them all over a paged KV cache whose
// blocks the BlockManager hands out (with prefix caching across requests).
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
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/models/model.h"
#include "engine/runtime/block_manager.h"
#include "engine/runtime/prefix_cache_journal.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/scheduler.h"
#include "engine/runtime/sequence.h"
#include "engine/runtime/token_constraint.h"
#include "engine/runtime/utf8_stream.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

struct EngineOptions {
  int n_ctx = 4096;       // positions per sequence (clamped to the model's training context)
  int max_waiting = 256;  // queued requests beyond which Submit refuses
  // Sequences decoding together and tokens per step (max_batch_tokens is clamped to the model's
  // max_batch; max_running to max_batch_tokens).
  SchedulerOptions scheduler;
  // KV cache budget in bytes; 0: 1 GiB. Always at least one full context; at most
  // max_running full contexts.
  int64_t kv_cache_bytes = 0;
  DType kv_type = DType::kF16;  // kF16, kF32 or kQ8_0
  int block_size = 16;          // positions per KV block
  bool validate_blocks = false;  // check the block manager's invariants after every step (tests)
  // Prefix-cache journal for cache-aware routing (PrefixCacheSince): block-hash changes kept
  // for readers, and the most the block manager buffers within one step (beyond: a snapshot).
  int prefix_events_kept = 16384;
  int prefix_events_per_step = 4096;
};

// How an embedding request pools the final hidden states (after the output norm) of its
// prompt: their mean, or the last token's.
enum class EmbeddingPooling { kNone, kMean, kLast };

struct EngineRequest {
  std::vector<int32_t> prompt;  // at least one token
  SamplerParams sampling;
  int max_tokens = 0;     // <= 0: until end of generation or the context is full
  int top_logprobs = -1;  // < 0: no logprobs; 0..20: the chosen token's plus this many
  bool ignore_eog = false;  // keep going past end-of-generation tokens (benchmarks)
  std::unique_ptr<TokenConstraint> constraint;  // optional
  // Tokens this request already generated on another engine (a gateway moving a stream to
  // another worker). They are replayed, not sampled: the sampler (its random draws too), the
  // constraint and on_token (with TokenOutput::replayed) see them as if just sampled, and they
  // count as completion tokens; their K/V is then computed one per step like any generated
  // token, so greedy and seeded sampling go on exactly as the first engine would have.
  std::vector<int32_t> resume;
  // Not kNone: an embedding request. The prompt runs through the model (it may fill the whole
  // context) and the request finishes with EngineFinish::embedding, generating nothing;
  // sampling, max_tokens, constraint and resume do not apply. Mean pooling never reuses the
  // prefix cache (every position's hidden state is needed).
  EmbeddingPooling embed = EmbeddingPooling::kNone;
  // A later part of a call the engine already took (an embedding call's next input): taken
  // while the engine drains (StopAccepting without cancel_waiting, as in a hot update) and
  // past a full queue, because the call holds its place already; refused after an unload.
  bool continues_accepted = false;
};

struct TokenOutput {
  int32_t id = -1;
  std::string text;  // whole UTF-8 characters completed by this token (may be empty)
  bool eog = false;  // an end-of-generation token; it carries no text
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
  bool replayed = false;  // one of EngineRequest::resume (no logprobs): already delivered
};

enum class EngineFinishReason { kEndOfGeneration, kMaxTokens, kContextFull, kStopped, kCancelled, kError };

struct EngineFinish {
  EngineFinishReason reason = EngineFinishReason::kEndOfGeneration;
  int prompt_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose K/V came from the prefix cache
  int completion_tokens = 0;  // sampled tokens, the end-of-generation token included
  int preemptions = 0;  // times the request lost its KV blocks and was recomputed
  Status error;
  std::vector<float> embedding;  // an embedding request's pooled vector (n_embd, not normalized)
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
  int running = 0;  // the running set: admitted sequences (they hold KV blocks), <= max_running
  int waiting = 0;  // queued, or preempted and waiting to be recomputed
  BlockManagerStats kv;  // KV blocks: used, cached (evictable), free
  int64_t kv_block_bytes = 0;
  int64_t kv_bytes_per_token = 0;  // all layers; MLA's latent rows are several times smaller
  int64_t prefix_hit_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t preemptions = 0;
  int64_t steps = 0;
  Status invariants;  // with validate_blocks: the first violation seen, else Ok
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

  // Stops taking requests; running ones run on, and queued ones finish as cancelled
  // (cancel_waiting, as for an unload) or wait their turn (a drain).
  void StopAccepting(bool cancel_waiting = true);
  // Waits until nothing is queued or running, up to `timeout_ms`; true if idle.
  bool WaitIdle(int timeout_ms);

  EngineStats stats() const;
  // Why the engine cannot run (e.g. a KV cache type the model's head size does not allow);
  // Ok when it can. Every Submit fails with it otherwise.
  const Status& init_status() const { return init_status_; }
  // Called on the engine thread after every step (metrics) with what stats() would answer then:
  // running is the running set, at most max_running. Set before the first Submit.
  void SetStepObserver(std::function<void(const EngineStats&)> observer);
  int n_ctx() const { return n_ctx_; }
  int block_size() const { return options_.block_size; }
  // The prefix cache's registered block hashes changed since the cursor (epoch, since), or
  // the whole set (PrefixCacheJournal::Since); any thread. Empty while the engine cannot run.
  PrefixCacheUpdate PrefixCacheSince(uint64_t epoch, uint64_t since, size_t max_hashes) const;
  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  // A request from Submit to its finish. seq is what the scheduler and block manager see.
  struct Active {
    Sequence seq;
    EngineRequest request;
    EngineCallbacks callbacks;
    std::shared_ptr<EngineTicket> ticket;
    std::unique_ptr<Sampler> sampler;  // made on first admission
    Utf8Stream utf8;
    EngineFinish finish;
    std::vector<float> chunk_hidden;  // embedding requests: this step's pooled rows
    bool started = false;
    bool done = false;
  };

  Status Init();
  void Loop();
  // One scheduling step and forward pass; false if there was nothing to run.
  bool Step();
  // Samples the next token of `a` from its logits row and reports it; may finish `a`.
  void SampleAndEmit(Active& a, float* logits);
  // Adds an embedding request's chunk to its pooled vector; finishes it after its prompt.
  void PoolHidden(Active& a, const SequenceChunk& chunk);
  // Makes `a`'s sampler and replays its resume tokens (engine thread, before it is queued);
  // may finish `a`.
  void Prepare(Active& a);
  // Reports token `id` of `a` (sampled or replayed) and finishes `a` when it ends the request;
  // false if it did.
  bool Emit(Active& a, TokenOutput& out);
  // Marks `a` finished: releases its blocks, takes it out of the queues.
  void Finish(Active& a, EngineFinishReason reason, Status error = Status::Ok());
  // Runs the finished requests' on_finish callbacks and drops them.
  void ReapFinished();
  void PublishStats();

  std::unique_ptr<Model> model_;
  const Tokenizer& tokenizer_;
  EngineOptions options_;
  int n_ctx_ = 0;
  Status init_status_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<PrefixCacheJournal> journal_;  // set by Init; internally locked
  std::vector<BlockHashEvent> hash_events_;      // engine thread: drained each step
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<float> logits_;      // one row per sequence that samples this step
  std::vector<float> raw_logits_;  // copy for logprobs (the sampler edits logits in place)
  std::function<void(const EngineStats&)> observer_;

  // Engine thread only.
  int64_t next_id_ = 0;
  std::vector<std::unique_ptr<Active>> actives_;  // every admitted or waiting request
  std::unordered_map<const Sequence*, Active*> owner_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;
  std::vector<SequenceChunk> chunks_;
  std::vector<ScheduledChunk> order_;  // the plan's chunks in chunks_' order
  EngineStats local_stats_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::unique_ptr<Active>> incoming_;  // submitted, not yet seen by the engine
  int n_active_ = 0;                              // actives_.size(), published
  bool accepting_ = true;
  bool stop_waiting_ = false;  // StopAccepting: cancel what has not started
  bool shutdown_ = false;
  EngineStats stats_;
  std::thread thread_;
};

const char* EngineFinishReasonName(EngineFinishReason reason);

}  // namespace llmux
