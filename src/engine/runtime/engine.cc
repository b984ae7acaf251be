#include "engine/runtime/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
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
  logits_.resize(model_->config().n_vocab);
  raw_logits_.resize(model_->config().n_vocab);
  thread_ = std::thread([this] { Loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    accepting_ = false;
    for (Job& job : queue_) job.ticket->Cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::shared_ptr<EngineTicket>> Engine::Submit(EngineRequest request,
                                                     EngineCallbacks callbacks) {
  if (request.prompt.empty()) return InvalidArgumentError("the prompt is empty");
  const int n_vocab = model_->config().n_vocab;
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  const int n_prompt = static_cast<int>(request.prompt.size());
  if (n_prompt >= n_ctx_) {
    return InvalidArgumentError("the prompt has " + std::to_string(n_prompt) +
                                " tokens; this model's context is " + std::to_string(n_ctx_) +
                                " tokens and at least one must be left to generate");
  }
  if (request.top_logprobs > 20) return InvalidArgumentError("top_logprobs must be at most 20");
  auto ticket = std::make_shared<EngineTicket>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return ResourceExhaustedError("the engine is shutting down");
    if (static_cast<int>(queue_.size()) >= options_.max_waiting) {
      return ResourceExhaustedError("too many queued requests (" +
                                    std::to_string(options_.max_waiting) + "); try again later");
    }
    queue_.push_back(Job{std::move(request), std::move(callbacks), ticket});
  }
  cv_.notify_one();
  return ticket;
}

void Engine::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
  for (Job& job : queue_) job.ticket->Cancel();
}

bool Engine::WaitIdle(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return queue_.empty() && !running_job_; });
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return EngineStats{running_job_ ? 1 : 0, static_cast<int>(queue_.size())};
}

void Engine::Loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
      if (queue_.empty()) return;  // shutdown with nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      running_job_ = true;
    }
    EngineFinish finish;
    if (job.ticket->cancelled()) {
      finish.reason = EngineFinishReason::kCancelled;
      finish.prompt_tokens = static_cast<int>(job.request.prompt.size());
    } else {
      if (job.callbacks.on_start) job.callbacks.on_start();
      finish = Run(job);
    }
    if (job.callbacks.on_finish) job.callbacks.on_finish(finish);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_job_ = false;
    }
    idle_cv_.notify_all();
  }
}

EngineFinish Engine::Run(Job& job) {
  EngineRequest& req = job.request;
  EngineFinish finish;
  finish.prompt_tokens = static_cast<int>(req.prompt.size());
  if (!cache_) {
    auto cache = model_->NewCache(n_ctx_);
    if (!cache.ok()) {
      finish.reason = EngineFinishReason::kError;
      finish.error = cache.status();
      return finish;
    }
    cache_ = std::move(*cache);
  }
  auto fail = [&](const Status& s) {
    spdlog::error("engine: forward pass failed: {}", s.ToString());
    finish.reason = EngineFinishReason::kError;
    finish.error = s;
    return finish;
  };

  // Prefill in chunks so that a cancellation is seen between chunks of a long prompt.
  const int n_prompt = finish.prompt_tokens;
  const int chunk = std::max(1, model_->max_batch());
  for (int pos = 0; pos < n_prompt; pos += chunk) {
    if (job.ticket->cancelled()) {
      finish.reason = EngineFinishReason::kCancelled;
      return finish;
    }
    const int n = std::min(chunk, n_prompt - pos);
    const bool last = pos + n == n_prompt;
    Status s = model_->Forward(*cache_, std::span<const int32_t>(req.prompt.data() + pos, n), pos,
                               last ? logits_.data() : nullptr, false);
    if (!s.ok()) return fail(s);
  }

  Sampler sampler(req.sampling);
  for (int32_t id : req.prompt) sampler.Accept(id);
  Utf8Stream utf8;
  int pos = n_prompt;
  for (;;) {
    if (job.ticket->cancelled()) {
      finish.reason = EngineFinishReason::kCancelled;
      return finish;
    }
    if (req.top_logprobs >= 0) std::copy(logits_.begin(), logits_.end(), raw_logits_.begin());
    const int32_t id = sampler.Sample(logits_, req.constraint.get());
    sampler.Accept(id);
    if (req.constraint) req.constraint->Accept(id);
    ++finish.completion_tokens;

    TokenOutput out;
    out.id = id;
    out.eog = tokenizer_.IsEndOfGeneration(id) && !req.ignore_eog;
    if (!out.eog) out.text = utf8.Push(tokenizer_.TokenToPiece(id));
    if (req.top_logprobs >= 0) FillLogprobs(raw_logits_, id, req.top_logprobs, out);
    const bool at_limit = req.max_tokens > 0 && finish.completion_tokens >= req.max_tokens;
    const bool ctx_full = pos + 1 >= n_ctx_;
    if (out.eog || at_limit || ctx_full) out.text += utf8.Flush();
    if (job.callbacks.on_token && !job.callbacks.on_token(out)) {
      finish.reason = EngineFinishReason::kStopped;
      return finish;
    }
    if (out.eog) {
      finish.reason = EngineFinishReason::kEndOfGeneration;
      return finish;
    }
    if (at_limit) {
      finish.reason = EngineFinishReason::kMaxTokens;
      return finish;
    }
    if (ctx_full) {
      finish.reason = EngineFinishReason::kContextFull;
      return finish;
    }
    Status s = model_->Forward(*cache_, std::span<const int32_t>(&id, 1), pos, logits_.data(), false);
    if (!s.ok()) return fail(s);
    ++pos;
  }
}

}  // namespace llmux
