#include "engine/runtime/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <span>

#include "base/log.h"
#include "engine/runtime/utf8_stream.h"

namespace llmux {

namespace {

// log-softmax of the chosen token and the `top_n` most likely ones.
void FillLogprobs(std::span<const float> logits, int32_t chosen, int top_n, TokenOutput& out) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float v : logits) max_logit = std::max(max_logit, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  const double log_z = max_logit + std::log(sum);
  out.logprob = static_cast<float>(logits[chosen] - log_z);
  if (top_n <= 0) return;
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  const size_t n = std::min<size_t>(top_n, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  out.top.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.top.emplace_back(ids[i], static_cast<float>(logits[ids[i]] - log_z));
  }
}

}  // namespace

const char* EngineFinishReasonName(EngineFinishReason reason) {
  switch (reason) {
    case EngineFinishReason::kEndOfGeneration:
      return "eog";
    case EngineFinishReason::kMaxTokens:
      return "max_tokens";
    case EngineFinishReason::kContextFull:
      return "context_full";
    case EngineFinishReason::kStopped:
      return "stopped";
    case EngineFinishReason::kCancelled:
      return "cancelled";
    case EngineFinishReason::kError:
      return "error";
  }
  return "?";
}

Engine::Engine(std::unique_ptr<Model> model, const Tokenizer& tokenizer, EngineOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {
  const int train_ctx = model_->config().n_ctx_train;
  n_ctx_ = options_.n_ctx > 0 ? options_.n_ctx : 4096;
  if (train_ctx > 0) n_ctx_ = std::min(n_ctx_, train_ctx);
  init_status_ = Init();
  if (!init_status_.ok()) spdlog::error("engine: {}", init_status_.ToString());
  thread_ = std::thread([this] { Loop(); });
}

Status Engine::Init() {
  EngineOptions& o = options_;
  SchedulerOptions& s = o.scheduler;
  s.max_running = std::max(1, s.max_running);
  s.max_batch_tokens = std::clamp(s.max_batch_tokens, 1, std::max(1, model_->max_batch()));
  // Every running sequence must be able to get its decode token into a step.
  s.max_running = std::min(s.max_running, s.max_batch_tokens);
  o.block_size = std::clamp(o.block_size, 1, 4096);
  const ModelConfig& c = model_->config();
  LLMUX_ASSIGN_OR_RETURN(size_t block_bytes,
                         KvCache::BlockBytes(c.n_layer, c.kv_dim(), o.kv_type, o.block_size,
                                             /*k_only=*/c.is_mla()));
  const int64_t budget = o.kv_cache_bytes > 0 ? o.kv_cache_bytes : int64_t{1} << 30;
  const int64_t blocks_per_ctx = (n_ctx_ + o.block_size - 1) / o.block_size;
  int64_t n_blocks = budget / static_cast<int64_t>(block_bytes);
  n_blocks = std::clamp(n_blocks, blocks_per_ctx, blocks_per_ctx * s.max_running);
  LLMUX_ASSIGN_OR_RETURN(cache_, model_->NewPagedCache(o.kv_type, static_cast<int>(n_blocks),
                                                       o.block_size, n_ctx_));
  blocks_ = std::make_unique<BlockManager>(static_cast<int>(n_blocks), o.block_size);
  blocks_->EnableHashEvents(static_cast<size_t>(std::max(o.prefix_events_per_step, 1)));
  journal_ = std::make_unique<PrefixCacheJournal>(static_cast<size_t>(std::max(o.prefix_events_kept, 1)),
                                                  std::random_device{}() | (uint64_t{std::random_device{}()} << 32));
  scheduler_ = std::make_unique<Scheduler>(s);
  logits_.resize(static_cast<size_t>(s.max_running) * c.n_vocab);
  raw_logits_.resize(c.n_vocab);
  chunks_.reserve(s.max_running);
  local_stats_.kv_block_bytes = static_cast<int64_t>(block_bytes);
  local_stats_.kv_bytes_per_token = static_cast<int64_t>(block_bytes) / o.block_size;
  local_stats_.kv = blocks_->stats();
  stats_ = local_stats_;
  spdlog::info("engine: KV cache {} blocks of {} positions, {} MiB ({}), up to {} sequences",
               n_blocks, o.block_size, n_blocks * static_cast<int64_t>(block_bytes) >> 20,
               std::string(Traits(o.kv_type).name), s.max_running);
  return Status::Ok();
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    accepting_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::SetStepObserver(std::function<void(const EngineStats&)> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

Result<std::shared_ptr<EngineTicket>> Engine::Submit(EngineRequest request,
                                                     EngineCallbacks callbacks) {
  LLMUX_RETURN_IF_ERROR(init_status_);
  if (request.prompt.empty()) return InvalidArgumentError("the prompt is empty");
  const int n_vocab = model_->config().n_vocab;
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  for (int32_t id : request.resume) {
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError("resumed token id " + std::to_string(id) +
                                  " is outside the vocabulary");
    }
  }
  const int n_prompt = static_cast<int>(request.prompt.size());
  const bool embed = request.embed != EmbeddingPooling::kNone;
  if (embed && !request.resume.empty()) {
    return InvalidArgumentError("an embedding request resumes nothing");
  }
  if (embed && n_prompt > n_ctx_) {
    return InvalidArgumentError("the input has " + std::to_string(n_prompt) +
                                " tokens; this model's context is " + std::to_string(n_ctx_));
  }
  if (!request.resume.empty() && n_prompt + static_cast<int64_t>(request.resume.size()) > n_ctx_) {
    return InvalidArgumentError("the prompt and the resumed tokens have " +
                                std::to_string(n_prompt + request.resume.size()) +
                                " tokens; this model's context is " + std::to_string(n_ctx_));
  }
  if (!embed && n_prompt >= n_ctx_) {
    return InvalidArgumentError("the prompt has " + std::to_string(n_prompt) +
                                " tokens; this model's context is " + std::to_string(n_ctx_) +
                                " tokens and at least one must be left to generate");
  }
  if (request.top_logprobs > 20) return InvalidArgumentError("top_logprobs must be at most 20");
  auto active = std::make_unique<Active>();
  active->ticket = std::make_shared<EngineTicket>();
  active->seq.tokens = request.prompt;
  active->seq.tokens.insert(active->seq.tokens.end(), request.resume.begin(), request.resume.end());
  active->seq.n_prompt = n_prompt;
  active->seq.reuse_prefix = request.embed != EmbeddingPooling::kMean;
  if (embed) active->chunk_hidden.assign(static_cast<size_t>(model_->config().n_embd), 0.0f);
  active->finish.prompt_tokens = n_prompt;
  active->request = std::move(request);
  active->callbacks = std::move(callbacks);
  std::shared_ptr<EngineTicket> ticket = active->ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool continuation = active->request.continues_accepted && !stop_waiting_ && !shutdown_;
    if (!accepting_ && !continuation) return ResourceExhaustedError("the engine is shutting down");
    if (!continuation &&
        stats_.waiting + static_cast<int>(incoming_.size()) >= options_.max_waiting) {
      return ResourceExhaustedError("too many queued requests (" +
                                    std::to_string(options_.max_waiting) + "); try again later");
    }
    incoming_.push_back(std::move(active));
  }
  cv_.notify_one();
  return ticket;
}

void Engine::StopAccepting(bool cancel_waiting) {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
  if (!cancel_waiting) return;
  for (auto& a : incoming_) a->ticket->Cancel();
  // Queued ones that the engine has seen are cancelled on its next step.
  stop_waiting_ = true;
  cv_.notify_one();
}

bool Engine::WaitIdle(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return incoming_.empty() && n_active_ == 0; });
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.waiting += static_cast<int>(incoming_.size());
  return s;
}

void Engine::Loop() {
  for (;;) {
    bool stop_waiting = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return shutdown_ || !incoming_.empty() || !actives_.empty(); });
      if (shutdown_) {
        for (auto& a : incoming_) a->ticket->Cancel();
        for (auto& a : actives_) a->ticket->Cancel();
      }
      while (!incoming_.empty()) {
        std::unique_ptr<Active> a = std::move(incoming_.front());
        incoming_.pop_front();
        a->seq.id = next_id_++;
        owner_[&a->seq] = a.get();
        Prepare(*a);
        if (!a->done) waiting_.push_back(&a->seq);
        actives_.push_back(std::move(a));
      }
      n_active_ = static_cast<int>(actives_.size());
      stop_waiting = stop_waiting_;
      if (actives_.empty() && shutdown_) return;
    }
    if (stop_waiting) {
      for (Sequence* s : waiting_) {
        Active* a = owner_.at(s);
        if (!a->started) a->ticket->Cancel();
      }
    }
    bool ran = false;
    if (!init_status_.ok()) {
      for (auto& a : actives_) Finish(*a, EngineFinishReason::kError, init_status_);
    } else {
      ran = Step();
    }
    // Stats first, so that gauges show the released blocks before any finished request's reply
    // goes out; then the finish callbacks, then the count WaitIdle reads.
    PublishStats();
    ReapFinished();
    {
      std::lock_guard<std::mutex> lock(mu_);
      n_active_ = static_cast<int>(actives_.size());
    }
    idle_cv_.notify_all();
    if (!ran) {
      // Nothing could run (e.g. all waiting on cancellation): don't spin.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
}

bool Engine::Step() {
  // Cancelled requests give their blocks back before anything is scheduled.
  for (auto& a : actives_) {
    if (!a->done && a->ticket->cancelled()) Finish(*a, EngineFinishReason::kCancelled);
  }
  SchedulePlan plan = scheduler_->Schedule(waiting_, running_, *blocks_);
  local_stats_.preemptions += static_cast<int64_t>(plan.preempted.size());
  auto active_of = [this](Sequence* s) { return owner_.at(s); };
  for (Sequence* s : plan.preempted) ++active_of(s)->finish.preemptions;
  for (Sequence* s : plan.admitted) {
    Active& a = *active_of(s);
    if (!a.started) {
      a.started = true;
      a.finish.cached_tokens = std::min(s->n_computed, s->n_prompt);
      s->cached_tokens = a.finish.cached_tokens;
      local_stats_.prefix_hit_tokens += a.finish.cached_tokens;
      if (a.callbacks.on_start) a.callbacks.on_start();
    }
  }
  for (Sequence* s : plan.out_of_memory) {
    Finish(*active_of(s), EngineFinishReason::kContextFull);
  }
  if (plan.empty()) {
    // Nothing can run: a waiting head that can never fit would block the queue forever.
    if (running_.empty() && !waiting_.empty() &&
        Scheduler::Unschedulable(*waiting_.front(), *blocks_)) {
      Finish(*active_of(waiting_.front()), EngineFinishReason::kError,
             ResourceExhaustedError("the request needs more KV cache than the server has"));
    }
    return false;
  }

  // Decode tokens first, then prefill chunks (ForwardBatch's order for its two kernel
  // classes): a generated token is single, a prompt token never is, so each token gets the
  // same arithmetic whether it runs alone or batched.
  chunks_.clear();
  order_.clear();
  for (int pass = 0; pass < 2; ++pass) {
    for (const ScheduledChunk& sc : plan.chunks) {
      Sequence& s = *sc.seq;
      const bool single = sc.n_tokens == 1 && s.n_computed >= s.n_prompt;
      if (single != (pass == 0)) continue;
      SequenceChunk ch;
      ch.tokens = std::span<const int32_t>(s.tokens.data() + s.n_computed, sc.n_tokens);
      ch.pos0 = s.n_computed;
      ch.blocks = s.block_table;
      const bool last_chunk = s.n_computed + sc.n_tokens == s.n_tokens();
      ch.logits = last_chunk ? ChunkLogits::kLast : ChunkLogits::kNone;
      ch.single = single;
      Active& a = *active_of(&s);
      if (a.request.embed == EmbeddingPooling::kMean) {
        ch.logits = ChunkLogits::kNone;
        ch.hidden = ChunkHidden::kSum;
        ch.hidden_out = a.chunk_hidden.data();
      } else if (a.request.embed == EmbeddingPooling::kLast) {
        ch.logits = ChunkLogits::kNone;
        ch.hidden = last_chunk ? ChunkHidden::kLast : ChunkHidden::kNone;
        ch.hidden_out = a.chunk_hidden.data();
      }
      chunks_.push_back(ch);
      order_.push_back(sc);
    }
  }
  Status status = model_->ForwardBatch(*cache_, chunks_, logits_.data());
  ++local_stats_.steps;
  if (!status.ok()) {
    spdlog::error("engine: forward pass failed: {}", status.ToString());
    for (const ScheduledChunk& sc : plan.chunks) {
      Finish(*active_of(sc.seq), EngineFinishReason::kError, status);
    }
    return true;
  }
  const size_t n_vocab = static_cast<size_t>(model_->config().n_vocab);
  size_t row = 0;
  for (size_t i = 0; i < order_.size(); ++i) {
    Sequence& s = *order_[i].seq;
    s.n_computed += order_[i].n_tokens;
    blocks_->CommitFullBlocks(s);
    if (chunks_[i].hidden != ChunkHidden::kNone ||
        active_of(&s)->request.embed != EmbeddingPooling::kNone) {
      PoolHidden(*active_of(&s), chunks_[i]);
    } else if (chunks_[i].logits == ChunkLogits::kLast) {
      SampleAndEmit(*active_of(&s), logits_.data() + row * n_vocab);
      ++row;
    }
  }
  return true;
}

void Engine::PoolHidden(Active& a, const SequenceChunk& chunk) {
  std::vector<float>& pooled = a.finish.embedding;
  // A preempted request recomputes from position 0: its sum starts again.
  if (chunk.pos0 == 0 || pooled.empty()) pooled.assign(a.chunk_hidden.size(), 0.0f);
  if (chunk.hidden != ChunkHidden::kNone) {
    for (size_t i = 0; i < pooled.size(); ++i) pooled[i] += a.chunk_hidden[i];
  }
  if (a.seq.n_computed < a.seq.n_prompt) return;
  if (a.request.embed == EmbeddingPooling::kMean) {
    const float inv = 1.0f / static_cast<float>(a.seq.n_prompt);
    for (float& v : pooled) v *= inv;
  }
  Finish(a, EngineFinishReason::kEndOfGeneration);
}

void Engine::Prepare(Active& a) {
  EngineRequest& req = a.request;
  a.sampler = std::make_unique<Sampler>(req.sampling);
  for (int32_t id : req.prompt) a.sampler->Accept(id);
  for (int32_t id : req.resume) {
    a.sampler->Skip();
    a.sampler->Accept(id);
    if (req.constraint) req.constraint->Accept(id);
    TokenOutput out;
    out.id = id;
    out.replayed = true;
    if (!Emit(a, out)) return;
  }
}

void Engine::SampleAndEmit(Active& a, float* logits) {
  EngineRequest& req = a.request;
  const size_t n_vocab = static_cast<size_t>(model_->config().n_vocab);
  std::span<float> row(logits, n_vocab);
  if (req.top_logprobs >= 0) std::copy(row.begin(), row.end(), raw_logits_.begin());
  if (req.constraint && req.max_tokens > 0) {
    req.constraint->SetTokensLeft(req.max_tokens - a.finish.completion_tokens);
  }
  const int32_t id = a.sampler->Sample(row, req.constraint.get());
  a.sampler->Accept(id);
  if (req.constraint) req.constraint->Accept(id);
  TokenOutput out;
  out.id = id;
  if (req.top_logprobs >= 0) FillLogprobs(raw_logits_, id, req.top_logprobs, out);
  if (Emit(a, out)) a.seq.tokens.push_back(id);
}

bool Engine::Emit(Active& a, TokenOutput& out) {
  EngineRequest& req = a.request;
  ++a.finish.completion_tokens;
  out.eog = tokenizer_.IsEndOfGeneration(out.id) && !req.ignore_eog;
  if (!out.eog) out.text = a.utf8.Push(tokenizer_.TokenToPiece(out.id));
  const bool at_limit = req.max_tokens > 0 && a.finish.completion_tokens >= req.max_tokens;
  // A replayed token is in seq.tokens already; a sampled one joins it if the request goes on.
  const int n_tokens = a.finish.prompt_tokens + a.finish.completion_tokens;
  const bool ctx_full = n_tokens >= n_ctx_;
  if (out.eog || at_limit || ctx_full) out.text += a.utf8.Flush();
  if (a.callbacks.on_token && !a.callbacks.on_token(out)) {
    Finish(a, EngineFinishReason::kStopped);
  } else if (out.eog) {
    Finish(a, EngineFinishReason::kEndOfGeneration);
  } else if (at_limit) {
    Finish(a, EngineFinishReason::kMaxTokens);
  } else if (ctx_full) {
    Finish(a, EngineFinishReason::kContextFull);
  } else {
    return true;
  }
  return false;
}

void Engine::Finish(Active& a, EngineFinishReason reason, Status error) {
  if (a.done) return;
  a.done = true;
  a.finish.reason = reason;
  a.finish.error = std::move(error);
  blocks_->Release(a.seq);
  a.seq.status = SequenceStatus::kFinished;
  std::erase(running_, &a.seq);
  std::erase(waiting_, &a.seq);
}

void Engine::ReapFinished() {
  bool any = false;
  for (auto& a : actives_) {
    if (!a->done) continue;
    any = true;
    if (a->callbacks.on_finish) a->callbacks.on_finish(a->finish);
  }
  if (!any) return;
  for (auto& a : actives_) {
    if (a->done) owner_.erase(&a->seq);
  }
  std::erase_if(actives_, [](const std::unique_ptr<Active>& a) { return a->done; });
}

PrefixCacheUpdate Engine::PrefixCacheSince(uint64_t epoch, uint64_t since, size_t max_hashes) const {
  if (!journal_) return {};
  return journal_->Since(epoch, since, max_hashes);
}

void Engine::PublishStats() {
  if (blocks_ && journal_) {
    hash_events_.clear();
    if (blocks_->DrainHashEvents(hash_events_)) {
      journal_->Record(hash_events_);
    } else {
      journal_->Reset(blocks_->RegisteredHashes());
    }
  }
  local_stats_.running = static_cast<int>(running_.size());
  local_stats_.waiting = static_cast<int>(waiting_.size());
  local_stats_.kv = blocks_ ? blocks_->stats() : BlockManagerStats{};
  if (options_.validate_blocks && blocks_ && local_stats_.invariants.ok()) {
    std::vector<const Sequence*> live;
    for (const auto& a : actives_) {
      if (!a->seq.block_table.empty()) live.push_back(&a->seq);
    }
    local_stats_.invariants = blocks_->Validate(live);
    if (!local_stats_.invariants.ok()) {
      spdlog::error("engine: block manager invariant broken: {}",
                    local_stats_.invariants.ToString());
    }
  }
  std::function<void(const EngineStats&)> observer;
  EngineStats published;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_ = local_stats_;
    n_active_ = static_cast<int>(actives_.size());
    observer = observer_;
    // What stats() answers: submitted requests the engine has not seen yet count as waiting.
    published = stats_;
    published.waiting += static_cast<int>(incoming_.size());
  }
  if (observer) observer(published);
  idle_cv_.notify_all();
}

}  // namespace llmux
