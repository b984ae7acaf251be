// LocalInferenceService's on-demand loads, as Ollama does them: a request for a model that is
// not loaded but can be (one that served before and was unloaded for idleness or evicted, or
// one whose load settings name a file: a registered model) starts its load and waits for it.
// One load per name; the requests for it wait in a queue bounded as a whole (engine.max_waiting)
// and per caller (max_waiting_per_caller), each at most lifecycle.load_wait_s. A failed load
// answers every waiter kUnavailable with the reason. Every entry point that names a model
// (generations, embeddings, tokenize, detokenize, counting) comes through WhenLoaded.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "serving/local_inference_service.h"
#include "serving/request_validation.h"

namespace llmux::serving {

namespace {

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void LocalInferenceService::WhenLoaded(const std::string& name, const std::string& caller,
                                       std::function<void(Status)> go) {
  // `go` stays here unless queued: AwaitModel keeps its own copy only for a waiter.
  auto await = AwaitModel(name, caller, go);
  if (!await.ok()) return go(await.status());
  if (*await == Await::kNow) go(Status());
}

void LocalInferenceService::SubmitChat(ChatRequest request, std::shared_ptr<Sink> sink,
                                       Submitted done) {
  // A request that would be refused anyway starts no load.
  if (Status s = ValidateChatRequest(request); !s.ok()) return done(s);
  auto held = std::make_shared<ChatRequest>(std::move(request));
  WhenLoaded(held->model, held->options.caller_share, [this, held, sink, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    done(Chat(std::move(*held), sink));
  });
}

void LocalInferenceService::SubmitComplete(CompletionRequest request, std::shared_ptr<Sink> sink,
                                           Submitted done) {
  if (Status s = ValidateCompletionRequest(request); !s.ok()) return done(s);
  auto held = std::make_shared<CompletionRequest>(std::move(request));
  WhenLoaded(held->model, held->options.caller_share, [this, held, sink, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    done(Complete(std::move(*held), sink));
  });
}

void LocalInferenceService::SubmitEmbed(EmbedRequest request, Embedded done) {
  if (request.inputs.empty() || request.inputs.size() > static_cast<size_t>(kMaxEmbedInputs)) {
    return done(
        InvalidArgumentError("input must hold 1 to " + std::to_string(kMaxEmbedInputs) + " items")
            .WithField("input"));
  }
  auto held = std::make_shared<EmbedRequest>(std::move(request));
  WhenLoaded(held->model, held->caller_share, [this, held, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    Embed(std::move(*held), done);
  });
}

void LocalInferenceService::SubmitTokenize(std::string model, std::string text, bool add_special,
                                           std::string caller_share, Tokenized done) {
  auto held = std::make_shared<std::string>(std::move(text));
  WhenLoaded(model, caller_share, [this, model, held, add_special, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    done(Tokenize(model, *held, add_special));
  });
}

void LocalInferenceService::SubmitDetokenize(std::string model, std::vector<int32_t> ids,
                                             std::string caller_share, Detokenized done) {
  auto held = std::make_shared<std::vector<int32_t>>(std::move(ids));
  WhenLoaded(model, caller_share, [this, model, held, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    done(Detokenize(model, *held));
  });
}

void LocalInferenceService::SubmitCountChatTokens(ChatRequest request, Counted done) {
  auto held = std::make_shared<ChatRequest>(std::move(request));
  WhenLoaded(held->model, held->options.caller_share, [this, held, done](Status loaded) {
    if (!loaded.ok()) return done(loaded);
    done(CountChatTokens(*held));
  });
}

Result<LocalInferenceService::Await> LocalInferenceService::AwaitModel(
    const std::string& name, const std::string& caller, std::function<void(Status)> resume) {
  auto hosted_locked = [&] {
    return std::any_of(hosts_.begin(), hosts_.end(),
                       [&](const auto& h) { return h->name() == name; });
  };
  std::optional<ModelSpec> spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Not ready, shutting down, or loaded: the request's own lookup answers.
    if (draining_ || stopping_ || !loaded_ || hosted_locked()) return Await::kNow;
    if (pending_.count(name) != 0) {
      LLMUX_RETURN_IF_ERROR(EnqueueLocked(name, caller, resume));
      return Await::kQueued;
    }
    if (auto it = remembered_.find(name); it != remembered_.end()) spec = it->second;
  }
  if (!spec && settings_) {  // a registered model (the lookup may read the store: no lock)
    std::optional<ModelLoadSettings> s = settings_(name);
    if (s && !s->path.empty()) spec = ModelSpec{name, s->path};
  }
  if (!spec) return Await::kNow;  // nothing to load: not found
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || stopping_ || hosted_locked()) return Await::kNow;
    const bool start = pending_.count(name) == 0;
    LLMUX_RETURN_IF_ERROR(EnqueueLocked(name, caller, resume));
    if (start) {
      ++on_demand_loads_;
      std::thread([this, spec = *spec] { LoadOnDemand(spec); }).detach();
    }
  }
  reaper_cv_.notify_all();  // a new deadline to watch
  return Await::kQueued;
}

Status LocalInferenceService::EnqueueLocked(const std::string& name, const std::string& caller,
                                            std::function<void(Status)>& resume) {
  auto [it, created] = pending_.try_emplace(name);
  PendingLoad& pending = it->second;
  if (created) {
    pending.shares =
        CallerShares(static_cast<size_t>(std::max(0, options_.max_waiting_per_caller)));
  }
  const size_t cap = static_cast<size_t>(std::max(1, options_.engine.max_waiting));
  LoadWaiter waiter;
  if (pending.waiters.size() >= cap) {
    return ResourceExhaustedError(std::to_string(cap) + " requests already wait for the model '" +
                                  name + "' to load; try again shortly");
  }
  if (!caller.empty()) {
    waiter.slot = pending.shares.TryAcquire(caller);
    if (!waiter.slot) {
      if (created) pending_.erase(it);
      return ResourceExhaustedError("this caller already has " +
                                    std::to_string(pending.shares.per_caller()) +
                                    " requests waiting for the model '" + name +
                                    "' to load, its share of the queue; try again shortly");
    }
  }
  waiter.deadline = NowUnix() + options_.lifecycle.load_wait_s;
  waiter.resume = std::move(resume);
  pending.waiters.push_back(std::move(waiter));
  return Status();
}

void LocalInferenceService::LoadOnDemand(ModelSpec spec) {
  const std::string name = spec.name;
  spdlog::info("model '{}' requested while not loaded: loading {} on demand", name, spec.path);
  Status status = LoadModel(spec, /*hold=*/true);
  const bool held = status.ok();
  std::vector<LoadWaiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.code() == StatusCode::kAlreadyExists) {  // loaded meanwhile by another call
      const bool hosted = std::any_of(hosts_.begin(), hosts_.end(),
                                      [&](const auto& h) { return h->name() == name; });
      status =
          hosted ? Status()
                 : UnavailableError("the model '" + name + "' is being loaded; try again shortly");
    }
    if (auto it = pending_.find(name); it != pending_.end()) {
      waiters = std::move(it->second.waiters);
      pending_.erase(it);
    }
  }
  const Status answer =
      status.ok() || status.code() == StatusCode::kUnavailable
          ? status
          : UnavailableError("loading the model '" + name + "' failed: " + status.message());
  for (LoadWaiter& w : waiters) {
    w.slot.reset();  // given back before the request takes its place in the engine's queue
    w.resume(answer.ok() ? answer : Status(answer).WithField("model"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (held) lifecycle_.RequestFinished(name, NowUnix());  // the waiters hold it themselves now
    --on_demand_loads_;
    // Both under the lock: once the count is 0 the destructor may go on and destroy them.
    on_demand_cv_.notify_all();
    reaper_cv_.notify_all();
  }
}

std::vector<std::function<void()>> LocalInferenceService::TakeTimedOutLocked(double now) {
  std::vector<std::function<void()>> out;
  for (auto& [name, pending] : pending_) {
    auto& ws = pending.waiters;
    for (auto it = ws.begin(); it != ws.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      Status s = UnavailableError("the model '" + name + "' is still loading after " +
                                  std::to_string(static_cast<int>(options_.lifecycle.load_wait_s)) +
                                  " s; try again shortly")
                     .WithField("model");
      out.push_back([resume = std::move(it->resume), s] { resume(s); });
      it = ws.erase(it);  // its caller slot is given back here
    }
  }
  return out;
}

std::optional<double> LocalInferenceService::NextLoadDeadlineLocked() const {
  std::optional<double> next;
  for (const auto& [name, pending] : pending_) {
    for (const LoadWaiter& w : pending.waiters) {
      if (!next || w.deadline < *next) next = w.deadline;
    }
  }
  return next;
}

}  // namespace llmux::serving
