#include "serving/local_inference_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "chat/chat_template.h"
#include "chat/output_parser.h"
#include "serving/generation_stream.h"
#include "serving/prompt_builder.h"
#include "serving/request_constraints.h"
#include "serving/request_validation.h"

namespace llmux::serving {

namespace {

class EngineRequestHandle : public RequestHandle {
 public:
  explicit EngineRequestHandle(std::shared_ptr<EngineTicket> ticket) : ticket_(std::move(ticket)) {}
  void Cancel() override { ticket_->Cancel(); }

 private:
  std::shared_ptr<EngineTicket> ticket_;
};

// Unset fields take llama.cpp's sampling defaults, which llama-server applies to OpenAI
// requests too: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05.
SamplerParams ToSamplerParams(const SamplingOptions& s) {
  SamplerParams p;
  if (s.temperature) p.temperature = *s.temperature;
  if (s.top_p) p.top_p = *s.top_p;
  if (s.top_k) p.top_k = *s.top_k;
  if (s.min_p) p.min_p = *s.min_p;
  p.presence_penalty = s.presence_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.repeat_penalty = s.repetition_penalty;
  if (s.seed) p.seed = *s.seed;
  return p;
}

EngineRequest MakeEngineRequest(std::vector<int32_t> prompt, const GenerationOptions& o) {
  EngineRequest req;
  req.prompt = std::move(prompt);
  req.sampling = ToSamplerParams(o.sampling);
  req.max_tokens = o.max_tokens.value_or(0);
  req.top_logprobs = o.logprobs ? o.top_logprobs : -1;
  req.ignore_eog = o.ignore_eos;
  req.resume = o.resume_tokens;
  return req;
}

// Takes the caller's slot of the model's waiting queue (none without a caller share): a
// ResourceExhausted error when the caller already has its share waiting.
Result<std::shared_ptr<CallerShares::Slot>> TakeWaitingSlot(ModelHost& host,
                                                            const GenerationOptions& o) {
  if (o.caller_share.empty()) return std::shared_ptr<CallerShares::Slot>();
  std::shared_ptr<CallerShares::Slot> slot = host.waiting_shares().TryAcquire(o.caller_share);
  if (!slot) {
    return ResourceExhaustedError(
        "this caller already has " + std::to_string(host.waiting_shares().per_caller()) +
        " requests waiting for the model '" + host.name() +
        "', its share of the queue; try again when one has started");
  }
  return slot;
}

// Holds `slot` while the request waits: it is given back when prefill starts, when the request
// finishes without starting (cancelled), or when the engine refuses it.
EngineCallbacks HoldWhileWaiting(EngineCallbacks callbacks,
                                 std::shared_ptr<CallerShares::Slot> slot) {
  if (!slot) return callbacks;
  // The engine runs both callbacks on its one thread, so the holder needs no lock.
  auto held = std::make_shared<std::shared_ptr<CallerShares::Slot>>(std::move(slot));
  callbacks.on_start = [held, on_start = std::move(callbacks.on_start)] {
    held->reset();
    if (on_start) on_start();
  };
  callbacks.on_finish = [held, on_finish = std::move(callbacks.on_finish)](const EngineFinish& f) {
    held->reset();
    if (on_finish) on_finish(f);
  };
  return callbacks;
}

// Holds `busy` (the model in use) until the request finishes, releasing it just before the finish
// is delivered.
EngineCallbacks HoldBusy(EngineCallbacks callbacks, std::shared_ptr<void> busy) {
  // All copies of the callbacks share one holder, so the finish releases it whatever the engine
  // keeps; a refused request releases it with the callbacks. The model turns idle before the
  // reply goes out, so a client that asks right after it sees the keep-alive running (in
  // /api/ps and /admin/v1/models alike). An unload that this starts (keep_alive 0) destroys the
  // engine only after this callback returns: its destructor joins the engine's thread.
  auto held = std::make_shared<std::shared_ptr<void>>(std::move(busy));
  callbacks.on_finish = [held, on_finish = std::move(callbacks.on_finish)](const EngineFinish& f) {
    held->reset();
    if (on_finish) on_finish(f);
  };
  return callbacks;
}

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What the KV cache of a model's engine can hold, in bytes.
int64_t KvCacheBytes(ModelHost& host) {
  const EngineStats s = host.engine().stats();
  return static_cast<int64_t>(s.kv.n_blocks) * s.kv_block_bytes;
}

}  // namespace

LocalInferenceService::LocalInferenceService(std::vector<ModelSpec> specs, ModelHostOptions options)
    : LocalInferenceService(std::move(specs), options, Deferred{}) {
  Start(nullptr);
}

LocalInferenceService::LocalInferenceService(std::vector<ModelSpec> specs, ModelHostOptions options,
                                             Deferred)
    : specs_(std::move(specs)), options_(options), lifecycle_(options.lifecycle) {
  reaper_ = std::thread([this] { ReapIdle(); });
}

void LocalInferenceService::Start(ModelLoadSettingsLookup settings) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
  }
  // Written once before any load: loads and requests read it after LoadAll set loaded_ (or
  // found a host it pushed) under mu_.
  settings_ = std::move(settings);
  loader_ = std::thread([this] { LoadAll(); });
}

std::pair<ModelSpec, ModelHostOptions> LocalInferenceService::PrepareLoad(ModelSpec spec) const {
  ModelHostOptions options = options_;
  if (!settings_) return {std::move(spec), options};
  std::optional<ModelLoadSettings> s = settings_(spec.name);
  if (!s) return {std::move(spec), options};
  options = WithLoadSettings(std::move(options), *s);
  if (s->chat_template) spec.chat_template = s->chat_template;
  spdlog::info(
      "model '{}' loads with its registry settings (context {}, KV {} {} bytes, max running {}{})",
      spec.name, options.engine.n_ctx, Traits(options.engine.kv_type).name,
      options.engine.kv_cache_bytes, options.engine.scheduler.max_running,
      s->chat_template ? ", its own chat template" : "");
  return {std::move(spec), options};
}

void LocalInferenceService::RememberLocked(const ModelSpec& spec) {
  auto it = remembered_.find(spec.name);
  if (it != remembered_.end()) {
    it->second = spec;
  } else if (remembered_.size() < kMaxRemembered) {
    remembered_.emplace(spec.name, spec);
  }
}

LocalInferenceService::~LocalInferenceService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  if (loader_.joinable()) loader_.join();
  {
    // On-demand loads finish (their waiters are answered) before the hosts go.
    std::unique_lock<std::mutex> lock(mu_);
    on_demand_cv_.wait(lock, [&] { return on_demand_loads_ == 0; });
  }
  std::vector<std::thread> retiring;
  {
    std::lock_guard<std::mutex> lock(mu_);
    retiring.swap(retiring_);
  }
  for (std::thread& t : retiring) t.join();
  // The hosts go first, while what their last requests' callbacks touch is still here. An
  // embedding call's callbacks hold its host until the engine drops them, on the engine's
  // thread: wait for such holders (as DestroyHost does), or the host would die there and its
  // engine would join its own thread.
  std::vector<std::shared_ptr<ModelHost>> hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts.swap(hosts_);
  }
  for (std::shared_ptr<ModelHost>& host : hosts) {
    host->engine().StopAccepting();
    while (host.use_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    host.reset();
  }
}

void LocalInferenceService::LoadAll() {
  const int limit = options_.lifecycle.max_loaded_models;
  if (limit > 0 && static_cast<int>(specs_.size()) > limit) {
    std::lock_guard<std::mutex> lock(mu_);
    load_status_ = InvalidArgumentError(std::to_string(specs_.size()) +
                                        " models are given but --max-loaded-models is " +
                                        std::to_string(limit));
    loaded_ = true;
    loaded_cv_.notify_all();
    return;
  }
  for (ModelSpec spec : specs_) {
    spdlog::info("loading model {}", spec.path);
    if (spec.name.empty()) {  // the name decides the load settings: read it first
      if (auto file = gguf::GgufFile::Open(spec.path); file.ok()) {
        spec.name = DefaultModelName(**file, spec.path);
      }  // else ModelHost::Load says why
    }
    auto [load_spec, load_options] = PrepareLoad(spec);
    auto host = ModelHost::Load(load_spec, load_options);
    std::lock_guard<std::mutex> lock(mu_);
    if (!host.ok()) {
      load_status_ = host.status().WithContext("loading " + spec.path);
      spdlog::error("{}", load_status_.ToString());
      break;
    }
    // Given at start: pinned (kept loaded, never evicted).
    auto begun = lifecycle_.BeginLoad((*host)->name(), spec.path, /*pinned=*/true, NowUnix());
    if (!begun.ok()) {
      load_status_ = InvalidArgumentError("two models are served under the name '" +
                                          (*host)->name() + "'; name them with --model NAME=FILE");
      break;
    }
    spdlog::info("model '{}' ready ({}, {}, context {})", (*host)->name(),
                 (*host)->info().architecture, (*host)->info().quantization,
                 (*host)->info().context_length);
    ObserveEngine(**host);
    lifecycle_.Loaded((*host)->name(), std::nullopt, (*host)->info().size_bytes,
                      KvCacheBytes(**host), NowUnix());
    RememberLocked(ModelSpec{(*host)->name(), spec.path});
    hosts_.push_back(std::move(*host));
  }
  std::lock_guard<std::mutex> lock(mu_);
  loaded_ = true;
  loaded_cv_.notify_all();
}

void LocalInferenceService::ObserveEngine(ModelHost& host) {
  // Gauges after every engine step, from the engine's own sets; counters advance by the step's
  // increase.
  struct Last {
    int64_t hits = 0, preemptions = 0;
  };
  // The observer lives in the host's engine: the host outlives it.
  host.engine().SetStepObserver(
      [this, &host, name = host.name(), last = std::make_shared<Last>()](const EngineStats& s) {
        if (!host.publishes_gauges()) return;  // a copy draining after a hot update
        metrics_.EngineLoad(name, s.running, s.waiting);
        metrics_.KvCache(name, s.kv.used, s.kv.cached, s.kv.n_blocks, s.kv_block_bytes,
                         s.kv_bytes_per_token);
        metrics_.PrefixCacheHits(name, s.prefix_hit_tokens - last->hits);
        metrics_.Preemptions(name, s.preemptions - last->preemptions);
        last->hits = s.prefix_hit_tokens;
        last->preemptions = s.preemptions;
      });
  const EngineStats s = host.engine().stats();
  metrics_.EngineLoad(host.name(), s.running, s.waiting);
  metrics_.KvCache(host.name(), s.kv.used, s.kv.cached, s.kv.n_blocks, s.kv_block_bytes,
                   s.kv_bytes_per_token);
  metrics_.PrefixCacheHits(host.name(), 0);
  metrics_.Preemptions(host.name(), 0);
}

Status LocalInferenceService::LoadModel(ModelSpec spec) {
  return LoadModel(std::move(spec), false);
}

Status LocalInferenceService::LoadModel(ModelSpec spec, bool hold) {
  if (spec.name.empty()) {  // the name decides what may be evicted for it: read it first
    auto file = gguf::GgufFile::Open(spec.path);
    if (!file.ok()) return file.status().WithContext("loading " + spec.path);
    spec.name = DefaultModelName(**file, spec.path);
  }
  const std::string name = spec.name;
  std::vector<std::shared_ptr<ModelHost>> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) return UnavailableError("the server is shutting down");
    if (!loaded_) return UnavailableError("the server is still loading its models; try again shortly");
    LLMUX_ASSIGN_OR_RETURN(std::vector<std::string> victims,
                           lifecycle_.BeginLoad(name, spec.path, /*pinned=*/false, NowUnix()));
    for (const std::string& v : victims) evicted.push_back(TakeHostLocked(v));
  }
  for (auto& h : evicted) {
    spdlog::info("model '{}' evicted (least recently used) to load '{}'", h ? h->name() : "", name);
    DestroyHost(std::move(h));
  }
  spdlog::info("loading model {}", spec.path);
  auto [load_spec, load_options] = PrepareLoad(spec);
  auto host = ModelHost::Load(load_spec, load_options);
  std::shared_ptr<ModelHost> refused;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!host.ok()) {
      Status s = host.status().WithContext("loading " + spec.path);
      spdlog::warn("{}", s.ToString());
      lifecycle_.LoadFailed(name, s.message(), NowUnix());
      return s;
    }
    if (draining_) {
      refused = std::move(*host);
      lifecycle_.LoadFailed(name, "the server is shutting down", NowUnix());
      return UnavailableError("the server is shutting down");
    }
    spdlog::info("model '{}' loaded ({}, {}, context {})", name, (*host)->info().architecture,
                 (*host)->info().quantization, (*host)->info().context_length);
    ObserveEngine(**host);
    lifecycle_.Loaded(name, spec.keep_alive_s, (*host)->info().size_bytes, KvCacheBytes(**host),
                      NowUnix());
    RememberLocked(spec);
    // Held for the requests that wait for it, so that no keep-alive unloads it before them.
    if (hold) lifecycle_.RequestStarted(name, std::nullopt, NowUnix());
    hosts_.push_back(std::move(*host));
  }
  reaper_cv_.notify_all();
  return Status();
}

std::shared_ptr<ModelHost> LocalInferenceService::TakeHostLocked(const std::string& name) {
  for (auto it = hosts_.begin(); it != hosts_.end(); ++it) {
    if ((*it)->name() == name) {
      std::shared_ptr<ModelHost> host = std::move(*it);
      hosts_.erase(it);
      return host;
    }
  }
  return nullptr;
}

void LocalInferenceService::DestroyHost(std::shared_ptr<ModelHost> host) {
  if (!host) return;
  const std::string name = host->name();
  // New lookups miss it now. Queued requests end cancelled and Submit refuses from here on.
  host->engine().StopAccepting();
  // A request that found the host just before holds it until its Submit returns, and Drain
  // holds it while it waits; wait for them so that the host dies here, not on their thread.
  while (host.use_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The engine's destructor cancels the running requests (their sinks get kCancelled) and
  // joins its thread after their callbacks ran; the tokenizer they use goes after it.
  host.reset();
  metrics_.EngineLoad(name, 0, 0);
  metrics_.KvCache(name, 0, 0, 0, 0, 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    lifecycle_.Unloaded(name);
  }
  spdlog::info("model '{}' unloaded", name);
}

Status LocalInferenceService::UnloadModel(const std::string& name) {
  std::shared_ptr<ModelHost> host;
  {
    std::lock_guard<std::mutex> lock(mu_);
    LLMUX_RETURN_IF_ERROR(lifecycle_.BeginUnload(name));
    host = TakeHostLocked(name);
    remembered_.erase(name);  // unloaded on purpose: not loaded again on demand
  }
  DestroyHost(std::move(host));
  return Status();
}

Status LocalInferenceService::ReplaceModel(ModelSpec spec) {
  const std::string name = spec.name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || stopping_) return UnavailableError("the server is shutting down");
    bool served = false;
    for (const auto& h : hosts_) served = served || h->name() == name;
    if (!served) return NotFoundError("the model '" + name + "' is not served").WithField("model");
    if (!replacing_.insert(name).second) {
      return AlreadyExistsError("the model '" + name + "' is being updated already");
    }
  }
  spdlog::info("updating model '{}' to {}", name, spec.path);
  auto [load_spec, load_options] = PrepareLoad(spec);
  auto loaded = ModelHost::Load(load_spec, load_options);
  std::shared_ptr<ModelHost> old;
  std::shared_ptr<ModelHost> unused;  // the new copy when the old one went meanwhile
  Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    replacing_.erase(name);
    if (!loaded.ok()) {
      status = loaded.status().WithContext("updating '" + name + "' from " + spec.path);
      spdlog::warn("{}; the old copy keeps serving", status.ToString());
      return status;
    }
    std::shared_ptr<ModelHost> fresh = std::move(loaded).value();
    auto it = std::find_if(hosts_.begin(), hosts_.end(),
                           [&](const auto& h) { return h->name() == name; });
    if (it == hosts_.end() || draining_ || stopping_) {
      unused = std::move(fresh);
      status = UnavailableError("the model '" + name + "' was unloaded during the update");
    } else {
      ObserveEngine(*fresh);
      lifecycle_.Replaced(name, spec.path, fresh->info().size_bytes, KvCacheBytes(*fresh),
                          NowUnix());
      RememberLocked(spec);
      old = std::exchange(*it, std::move(fresh));  // new lookups find the new copy from here
      // The old copy takes no new requests; those it holds run to their end, then it goes.
      // Its engine stops publishing the model's gauges (the new copy's own them now); its
      // requests still count in the request metrics, which are per request.
      old->StopPublishingGauges();
      old->engine().StopAccepting(/*cancel_waiting=*/false);
      retiring_.emplace_back([this, old = std::move(old)]() mutable {
        while (!old->engine().WaitIdle(200)) {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) break;  // shutting down: what still runs ends cancelled
        }
        // A request that found the host just before the switch holds it until its Submit
        // returns; the engine's destructor then joins its thread.
        while (old.use_count() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        old.reset();
      });
    }
  }
  if (unused) unused.reset();
  if (status.ok()) spdlog::info("model '{}' now serves {}", name, spec.path);
  return status;
}

std::vector<ModelStatus> LocalInferenceService::ModelStatuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lifecycle_.List();
}

Status LocalInferenceService::SetKeepAlive(const std::string& name, double seconds) {
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = lifecycle_.SetKeepAlive(name, seconds, NowUnix());
  }
  reaper_cv_.notify_all();
  return s;
}

void LocalInferenceService::ReapIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const double now = NowUnix();
    // Requests whose model's on-demand load outlasted their wait are answered.
    if (auto timed_out = TakeTimedOutLocked(now); !timed_out.empty()) {
      lock.unlock();
      for (auto& answer : timed_out) answer();
      lock.lock();
      continue;
    }
    const std::optional<double> deadline = NextLoadDeadlineLocked();
    const std::optional<double> next = draining_ ? std::nullopt : lifecycle_.NextExpiry();
    if (next && *next <= now) {
      std::vector<std::shared_ptr<ModelHost>> expired;
      for (const std::string& name : lifecycle_.TakeExpired(now)) {
        expired.push_back(TakeHostLocked(name));
      }
      lock.unlock();
      for (auto& h : expired) {
        if (h) spdlog::info("model '{}' idle for its keep-alive: unloading", h->name());
        DestroyHost(std::move(h));
      }
      lock.lock();
      continue;
    }
    // Woken by every change that may move the next expiry; at most a second between checks
    // (the wall clock may be set meanwhile).
    double wait = next ? std::clamp(*next - now, 0.001, 1.0) : 1.0;
    if (deadline) wait = std::min(wait, std::max(*deadline - now, 0.001));
    reaper_cv_.wait_for(lock, std::chrono::duration<double>(wait));
  }
}

Status LocalInferenceService::WaitLoaded() {
  std::unique_lock<std::mutex> lock(mu_);
  loaded_cv_.wait(lock, [&] { return loaded_; });
  return load_status_;
}

void LocalInferenceService::Drain(int timeout_ms) {
  std::vector<std::shared_ptr<ModelHost>> hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    hosts = hosts_;
  }
  // Accepted work finishes, queued or running; the grace period bounds it.
  for (auto& h : hosts) h->engine().StopAccepting(/*cancel_waiting=*/false);
  for (auto& h : hosts) h->engine().WaitIdle(timeout_ms);
}

std::vector<ModelInfo> LocalInferenceService::ListModels() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelInfo> out;
  for (const auto& h : hosts_) out.push_back(h->info());
  return out;
}

bool LocalInferenceService::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loaded_ && load_status_.ok() && !draining_;
}

Result<std::shared_ptr<ModelHost>> LocalInferenceService::FindModel(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (draining_) return UnavailableError("the server is shutting down");
  for (const auto& h : hosts_) {
    if (h->name() == name) return h;
  }
  if (!loaded_) return UnavailableError("models are still loading; try again shortly");
  return NotFoundError("the model '" + name + "' does not exist").WithField("model");
}

Result<std::vector<int32_t>> LocalInferenceService::Tokenize(const std::string& model,
                                                             std::string_view text,
                                                             bool add_special) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<ModelHost> host, FindModel(model));
  return host->tokenizer().Encode(text, add_special, /*parse_special=*/true);
}

Result<std::string> LocalInferenceService::Detokenize(const std::string& model,
                                                      std::span<const int32_t> ids) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<ModelHost> host, FindModel(model));
  return DecodeClientIds(host->tokenizer(), ids);
}

Result<int> LocalInferenceService::CountChatTokens(const ChatRequest& request) const {
  LLMUX_RETURN_IF_ERROR(ValidateChatRequest(request));
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<ModelHost> host, FindModel(request.model));
  LLMUX_ASSIGN_OR_RETURN(
      std::vector<int32_t> prompt,
      BuildChatPrompt(host->chat_template(), host->tokenizer(), request, PlanChatPrompt(request)));
  return static_cast<int>(prompt.size());
}

Result<LocalInferenceService::ModelUse> LocalInferenceService::UseModel(
    const std::string& name, std::optional<double> keep_alive_s) {
  ModelUse use;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) return UnavailableError("the server is shutting down");
    for (const auto& h : hosts_) {
      if (h->name() == name) use.host = h;
    }
    if (!use.host) {
      if (!loaded_) return UnavailableError("models are still loading; try again shortly");
      return NotFoundError("the model '" + name + "' does not exist").WithField("model");
    }
    lifecycle_.RequestStarted(name, keep_alive_s, NowUnix());
  }
  // Released when the request ends (or is refused): the model turns idle and its keep-alive
  // counts from then.
  use.busy = std::shared_ptr<void>(nullptr, [this, name](void*) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      lifecycle_.RequestFinished(name, NowUnix());
    }
    reaper_cv_.notify_all();
  });
  return use;
}

bool LocalInferenceService::Serves(const ModelHost* host) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& h : hosts_) {
    if (h.get() == host) return true;
  }
  return false;
}

bool LocalInferenceService::ReplacedSince(const ModelHost& host) const {
  std::lock_guard<std::mutex> lock(mu_);
  bool served = false, other = false;
  for (const auto& h : hosts_) {
    served = served || h.get() == &host;
    other = other || (h.get() != &host && h->name() == host.name());
  }
  return !served && other;
}

Status LocalInferenceService::SubmitError(const ModelHost& host, Status status,
                                          const char* field) const {
  if (status.code() == StatusCode::kResourceExhausted && !Serves(&host)) {
    return NotFoundError("the model '" + host.name() + "' was unloaded").WithField("model");
  }
  return status.WithField(field);
}

// A hot update retires the old copy between a request's lookup and its submission only in a
// short window; a request caught there goes to the new copy (once: a second update in the same
// window is refused as an unloaded model).
Result<std::shared_ptr<RequestHandle>> LocalInferenceService::Chat(ChatRequest request,
                                                                   std::shared_ptr<Sink> sink) {
  LLMUX_RETURN_IF_ERROR(ValidateChatRequest(request));
  bool retired = false;
  auto handle = ChatOnce(request, sink, &retired);
  return retired ? ChatOnce(request, sink, nullptr) : handle;
}

Result<std::shared_ptr<RequestHandle>> LocalInferenceService::ChatOnce(
    const ChatRequest& request, const std::shared_ptr<Sink>& sink, bool* retired) {
  LLMUX_ASSIGN_OR_RETURN(ModelUse use, UseModel(request.model, request.options.keep_alive_s));
  const std::shared_ptr<ModelHost>& host = use.host;
  const chat::ChatTemplate& tmpl = host->chat_template();

  // The same plan and tokens the gateway computes for cache-aware routing (prompt_builder.h).
  const ChatPromptPlan plan = PlanChatPrompt(request);
  const bool use_tools = plan.use_tools;
  const chat::RenderOptions& render = plan.render;
  LLMUX_ASSIGN_OR_RETURN(std::vector<int32_t> prompt,
                         BuildChatPrompt(tmpl, host->tokenizer(), request, plan));

  EngineRequest engine_request = MakeEngineRequest(std::move(prompt), request.options);
  LLMUX_ASSIGN_OR_RETURN(engine_request.constraint,
                         MakeRequestConstraint(host->constraint_vocab(), tmpl.output_format(render),
                                               request, use_tools, grammars_));
  chat::ParserOptions parser_options;
  parser_options.parse_tool_calls = use_tools;
  if (!request.parallel_tool_calls) parser_options.max_tool_calls = 1;
  auto parser = tmpl.MakeParser(render, parser_options);
  LLMUX_ASSIGN_OR_RETURN(auto waiting_slot, TakeWaitingSlot(*host, request.options));
  auto stream = std::make_shared<GenerationStream>(host->name(), host->tokenizer(), metrics_, sink,
                                                   request.options.stop, std::move(parser),
                                                   request.options.logprobs);
  auto ticket = host->engine().Submit(
      std::move(engine_request),
      HoldWhileWaiting(HoldBusy(stream->MakeCallbacks(), use.busy), std::move(waiting_slot)));
  if (!ticket.ok()) {
    if (retired != nullptr && ReplacedSince(*host)) {
      *retired = true;
      return ticket.status();
    }
    stream->Refused();
    return SubmitError(*host, ticket.status(), "messages");
  }
  return std::shared_ptr<RequestHandle>(std::make_shared<EngineRequestHandle>(*ticket));
}

Result<std::shared_ptr<RequestHandle>> LocalInferenceService::Complete(
    CompletionRequest request, std::shared_ptr<Sink> sink) {
  LLMUX_RETURN_IF_ERROR(ValidateCompletionRequest(request));
  bool retired = false;  // as in Chat
  auto handle = CompleteOnce(request, sink, &retired);
  return retired ? CompleteOnce(request, sink, nullptr) : handle;
}

Result<std::shared_ptr<RequestHandle>> LocalInferenceService::CompleteOnce(
    const CompletionRequest& request, const std::shared_ptr<Sink>& sink, bool* retired) {
  LLMUX_ASSIGN_OR_RETURN(ModelUse use, UseModel(request.model, request.options.keep_alive_s));
  const std::shared_ptr<ModelHost>& host = use.host;
  std::vector<int32_t> prompt = BuildCompletionPrompt(host->tokenizer(), request.prompt);
  EngineRequest engine_request = MakeEngineRequest(std::move(prompt), request.options);
  LLMUX_ASSIGN_OR_RETURN(auto waiting_slot, TakeWaitingSlot(*host, request.options));
  auto stream =
      std::make_shared<GenerationStream>(host->name(), host->tokenizer(), metrics_, sink,
                                         request.options.stop, nullptr, request.options.logprobs);
  auto ticket = host->engine().Submit(
      std::move(engine_request),
      HoldWhileWaiting(HoldBusy(stream->MakeCallbacks(), use.busy), std::move(waiting_slot)));
  if (!ticket.ok()) {
    if (retired != nullptr && ReplacedSince(*host)) {
      *retired = true;
      return ticket.status();
    }
    stream->Refused();
    return SubmitError(*host, ticket.status(), "prompt");
  }
  return std::shared_ptr<RequestHandle>(std::make_shared<EngineRequestHandle>(*ticket));
}

}  // namespace llmux::serving
