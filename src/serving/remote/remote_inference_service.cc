#include "serving/remote/remote_inference_service.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <deque>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "llmux/worker/v1/worker.grpc.pb.h"
#include "net/grpc/grpc_tls.h"
#include "serving/remote/worker_load.h"
#include "serving/remote/worker_wire.h"

namespace llmux::serving {

namespace pb = ::llmux::worker::v1;
using WorkerSession = RemoteInferenceService::WorkerSession;

struct RemoteInferenceService::Worker {
  std::string address;
  bool standby = false;
  std::unique_ptr<pb::Worker::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  // Guarded by the service's mutex.
  bool up = false;
  bool draining = false;  // told to drain: no new requests, whatever its polls say
  int capacity = 0;       // registered max running; 0: unknown
  bool serving = true;    // its last health check said SERVING (or none was made)
  CircuitBreaker breaker;
  std::vector<ModelInfo> models;  // ready ones
  std::vector<ModelStatus> statuses;  // its models' lifecycle, as it last reported them
  int outstanding = 0;
  PrefixIndex prefix;  // its last load report per model (cache-aware routing, model metrics)
  prometheus::Gauge* up_gauge = nullptr;
  prometheus::Gauge* down_gauge = nullptr;
  prometheus::Gauge* breaker_gauges[3] = {};  // closed, open, half_open
  prometheus::Counter* requests = nullptr;
  prometheus::Counter* failures = nullptr;
  // The Session call that carries this gateway's generations on it; null or broken: the next
  // generation opens another.
  std::shared_ptr<WorkerSession> session;
};

namespace {

class GenerateCall;

// Workers refreshed at once, at most (one thread each).
constexpr size_t kRefreshParallel = 64;

}  // namespace

// One request's life across its attempts. The calls hold it; the caller holds it as the handle.
struct RemoteInferenceService::Request : RequestHandle,
                                         std::enable_shared_from_this<RemoteInferenceService::Request> {
  RemoteInferenceService* service = nullptr;
  std::string model;
  pb::GenerateRequest proto;
  std::shared_ptr<Sink> sink;
  std::vector<uint64_t> blocks;  // the prompt's block hashes (cache-aware routing only)

  std::mutex mu;
  std::set<std::string> tried;
  int attempts = 0;
  bool delivered = false;  // a delta reached the sink: further attempts resume the stream
  std::vector<int32_t> sent_tokens;  // the tokens of the deltas that reached the sink
  bool finished = false;   // the sink got OnFinish
  bool cancelled = false;
  // The current attempt. Shared, so that Cancel can use it while its OnDone runs elsewhere.
  std::shared_ptr<GenerateCall> call;
  // Set while Submit waits for the current attempt's first event.
  std::shared_ptr<std::promise<Status>> waiter;
  std::string last_error;

  void Cancel() override;
  // Called from the calls (gRPC's threads).
  void OnFirst(GenerateCall* call, const Status& refusal);
  void OnDelta(GenerateCall* call, const Delta& delta);
  void OnFinish(GenerateCall* call, const Finish& finish);
  void OnCallDone(GenerateCall* call, const std::shared_ptr<Worker>& worker,
                  const grpc::Status& status, bool first_seen, bool cancelled_here);
  void Finish(Finish finish);  // with mu held by nobody
  // Starts another attempt without a waiting caller: the stream failed before any delta, or
  // after some (the next worker then resumes from sent_tokens).
  void RetryInBackground();
};

namespace {

// One attempt of a request on one worker: a generation on the worker's session.
class GenerateCall final : public std::enable_shared_from_this<GenerateCall> {
 public:
  GenerateCall(std::shared_ptr<RemoteInferenceService::Request> request,
               std::shared_ptr<RemoteInferenceService::Worker> worker)
      : request_(std::move(request)), worker_(std::move(worker)) {}

  // Sends the request on the worker's session; keeps itself alive until Done.
  void Start();
  // Ends the attempt here as cancelled (at once, whether or not the worker answers) and tells
  // the worker to stop the generation.
  void TryCancel();
  const std::string& address() const { return worker_->address; }

  // From the session (one reader: one event at a time). A cancel here may end the attempt
  // meanwhile, on another thread: the request is then gone from it, or ignores this call.
  void OnEvent(const pb::GenerateEvent& event) {
    std::shared_ptr<RemoteInferenceService::Request> request = CurrentRequest();
    if (!request) return;
    if (!first_seen_.exchange(true)) {
      request->OnFirst(this, event.has_refused() ? serving::wire::FromProto(event.refused()) : Status::Ok());
    } else if (event.has_delta()) {
      request->OnDelta(this, serving::wire::FromProto(event.delta()));
    } else if (event.has_finish()) {
      Result<Finish> finish = serving::wire::FromProto(event.finish());
      request->OnFinish(
          this, finish.ok() ? *finish : Finish{FinishReason::kError, {}, finish.status(), ""});
    }
  }
  // The attempt's end: its last event came (status OK), the session ended (its status), or it
  // was cancelled here. Exactly once.
  void Done(const grpc::Status& status) {
    if (done_.exchange(true)) return;
    // The request (its sink, and with it the caller's call slot and rate-limit lease) leaves
    // this object now: the retirement below may keep the object a second.
    std::shared_ptr<RemoteInferenceService::Request> request;
    {
      std::lock_guard lock(mu_);
      request = std::move(request_);
    }
    RemoteInferenceService* service = request->service;
    request->OnCallDone(this, worker_, status, first_seen_.load(), cancelled_here_.load());
    request.reset();
    // This may run on a gRPC callback thread, where the last reference to a channel must not
    // go (gRPC cannot shut its callback queue down from its own threads), and this object may
    // hold one (its worker's stub): the refresh thread or the service's destructor drops it.
    service->Retire(std::move(self_));
  }

 private:
  std::shared_ptr<RemoteInferenceService::Request> CurrentRequest() {
    std::lock_guard lock(mu_);
    return request_;
  }

  std::mutex mu_;
  std::shared_ptr<RemoteInferenceService::Request> request_;  // null once done
  std::shared_ptr<RemoteInferenceService::Worker> worker_;
  std::shared_ptr<WorkerSession> session_;  // once sent
  uint64_t id_ = 0;
  std::atomic<bool> first_seen_{false};
  std::atomic<bool> cancelled_here_{false};
  std::atomic<bool> done_{false};
  std::shared_ptr<GenerateCall> self_;
};

}  // namespace

// A Session call to one worker: the generations of every request this gateway sends it. Events
// come in batches and go to their attempts by id; requests and cancels go out one write at a
// time (queued meanwhile). When the call ends, every attempt still on it ends with its status
// (their requests then retry or migrate elsewhere, as for a worker that died).
class RemoteInferenceService::WorkerSession final
    : public grpc::ClientBidiReactor<pb::SessionRequest, pb::SessionEvents>,
      public std::enable_shared_from_this<RemoteInferenceService::WorkerSession> {
 public:
  explicit WorkerSession(RemoteInferenceService* service) : service_(service) {}

  void Start(pb::Worker::Stub& stub) {
    self_ = shared_from_this();
    service_->CallStarted(&context_);
    stub.async()->Session(&context_, this);
    AddHold();  // writes start from other threads than the reactions (see RemoveHoldOnce)
    StartRead(&in_);
    StartCall();
    std::unique_lock lock(mu_);
    started_ = true;
    Pump(lock);
  }

  bool broken() const {
    std::lock_guard lock(mu_);
    return broken_ || closing_;
  }

  // Queues the attempt's request; false when the session broke (open another).
  bool Send(const std::shared_ptr<GenerateCall>& call, const pb::GenerateRequest& generate, uint64_t* id) {
    std::unique_lock lock(mu_);
    if (broken_ || closing_) return false;
    *id = ++last_id_;
    calls_[*id] = call;
    pb::SessionRequest& r = out_.emplace_back();
    r.set_id(*id);
    *r.mutable_generate() = generate;
    Pump(lock);
    return true;
  }

  // Takes the attempt off the session and asks the worker to stop it; false if it was not on
  // it any more (its end is already under way).
  bool Cancel(uint64_t id) {
    std::unique_lock lock(mu_);
    if (calls_.erase(id) == 0) return false;
    if (!broken_) {
      pb::SessionRequest& r = out_.emplace_back();
      r.set_id(id);
      r.mutable_cancel();
      Pump(lock);
    }
    return true;
  }

  // No more requests (the worker left): the worker ends the call when its generations end.
  void Close() {
    std::unique_lock lock(mu_);
    closing_ = true;
    Pump(lock);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        std::lock_guard lock(mu_);
        broken_ = true;
        out_.clear();
      }
      RemoveHoldOnce();
      return;  // OnDone follows, with the call's status
    }
    for (const pb::SessionEvent& e : in_.events()) {
      const bool last = e.event().has_finish() || e.event().has_refused();
      std::shared_ptr<GenerateCall> call;
      {
        std::lock_guard lock(mu_);
        auto it = calls_.find(e.id());
        if (it == calls_.end()) continue;  // cancelled here: its end was already handled
        call = it->second;
        if (last) calls_.erase(it);
      }
      call->OnEvent(e.event());
      if (last) call->Done(grpc::Status::OK);
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;  // the read side ends too, and OnDone comes
      out_.clear();
      return;
    }
    Pump(lock);
  }

  void OnDone(const grpc::Status& status) override {
    std::map<uint64_t, std::shared_ptr<GenerateCall>> calls;
    {
      std::lock_guard lock(mu_);
      broken_ = true;
      calls.swap(calls_);
    }
    // A call that ended OK with generations still on it (the worker went away cleanly) ended
    // them early, as a broken one did.
    const grpc::Status why = status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the worker ended the session")
                                         : status;
    for (auto& [id, call] : calls) call->Done(why);
    RemoteInferenceService* service = service_;
    // As for the calls: this runs on a gRPC callback thread and holds a channel (its context).
    service->Retire(std::move(self_));
    service->CallEnded(&context_);  // the last use of the service and of this object
  }

 private:
  // Starts the next write, or the half-close once closing and nothing is left to write.
  // gRPC is called under the lock: the read side's end sets broken_ under it before it
  // removes the hold, so a write either counts on the stream before the hold goes or does
  // not start. (Unlocked, a write could start on a stream already destroyed.) Neither call
  // runs a reaction inline, so the lock is not taken again from inside.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (!started_ || writing_ || broken_ || writes_done_) return;
    if (!out_.empty()) {
      current_ = std::move(out_.front());
      out_.pop_front();
      writing_ = true;
      StartWrite(&current_);
    } else if (closing_) {
      writes_done_ = true;
      StartWritesDone();
      lock.unlock();
      RemoveHoldOnce();
    }
  }

  // The hold lets writes start outside the reactions; it goes when no more will start (the
  // half-close went, or the read side ended), so that OnDone can come.
  void RemoveHoldOnce() {
    if (!hold_removed_.exchange(true)) RemoveHold();
  }

  RemoteInferenceService* service_;
  grpc::ClientContext context_;
  pb::SessionEvents in_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<GenerateCall>> calls_;  // sent, not yet ended
  std::deque<pb::SessionRequest> out_;
  pb::SessionRequest current_;  // the request being written; stable while writing_
  uint64_t last_id_ = 0;
  bool started_ = false;
  bool writing_ = false;
  bool broken_ = false;
  bool closing_ = false;
  bool writes_done_ = false;
  std::atomic<bool> hold_removed_{false};
  std::shared_ptr<WorkerSession> self_;
};

namespace {

void GenerateCall::Start() {
  self_ = shared_from_this();
  if (cancelled_here_.load()) {
    Done(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    return;
  }
  std::shared_ptr<RemoteInferenceService::Request> request = CurrentRequest();
  for (int tries = 0; tries < 2; ++tries) {
    std::shared_ptr<WorkerSession> session = request->service->SessionFor(worker_);
    std::lock_guard lock(mu_);
    if (session->Send(shared_from_this(), request->proto, &id_)) {
      session_ = std::move(session);
      break;
    }
  }
  request.reset();
  bool sent;
  {
    std::lock_guard lock(mu_);
    sent = session_ != nullptr;
  }
  if (!sent) {
    Done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no session to worker " + worker_->address));
  } else if (cancelled_here_.load()) {
    TryCancel();  // cancelled while it was being sent
  }
}

void GenerateCall::TryCancel() {
  cancelled_here_.store(true);
  std::shared_ptr<WorkerSession> session;
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    session = session_;
    id = id_;
  }
  // Not sent yet: Start sees the flag. Sent: whoever takes it off the session ends it.
  if (session && session->Cancel(id)) Done(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled here"));
}

// A request without a seed gets one here, so that a stream resumed on another worker draws
// the numbers the first worker would have drawn.
void FixSeed(GenerationOptions& options) {
  if (options.sampling.seed) return;
  thread_local std::mt19937 rng{std::random_device{}()};
  options.sampling.seed = static_cast<uint32_t>(rng() % 0xFFFFFFFFu);  // 0xFFFFFFFF: "random"
}

// A refusal worth trying elsewhere: the worker is full or going away, not the request wrong.
bool TryElsewhere(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kResourceExhausted;
}

}  // namespace

void RemoteInferenceService::Request::Cancel() {
  std::shared_ptr<GenerateCall> current;
  {
    std::lock_guard lock(mu);
    if (cancelled || finished) return;
    cancelled = true;
    current = call;
  }
  // Outside the lock (OnDone takes it); `current` keeps the call's context alive.
  if (current) current->TryCancel();
}

void RemoteInferenceService::Request::OnFirst(GenerateCall* from, const Status& refusal) {
  std::shared_ptr<std::promise<Status>> w;
  bool retry = false;
  {
    std::lock_guard lock(mu);
    if (from != call.get()) return;
    w = std::move(waiter);
    waiter.reset();
    if (!refusal.ok()) {
      // The refused call is over: its end (next, on this thread) must not start an attempt of
      // its own. Submit, when it waits, decides what follows (it tries the next worker).
      call.reset();
      if (!w) {
        // A background attempt refused: another worker may take it if this one is only full;
        // else the request ends with the refusal.
        retry = TryElsewhere(refusal) && !cancelled && attempts < service->options_.max_attempts;
        last_error = refusal.message();
      }
    }
  }
  if (w) {
    w->set_value(refusal);
  } else if (retry) {
    RetryInBackground();
  } else if (!refusal.ok()) {
    Finish({FinishReason::kError, {}, refusal, ""});
  }
}

void RemoteInferenceService::Request::OnDelta(GenerateCall* from, const Delta& delta) {
  {
    std::lock_guard lock(mu);
    if (from != call.get() || finished) return;
    delivered = true;
    sent_tokens.insert(sent_tokens.end(), delta.tokens.begin(), delta.tokens.end());
  }
  sink->OnDelta(delta);
}

void RemoteInferenceService::Request::OnFinish(GenerateCall* from, const serving::Finish& f) {
  {
    std::lock_guard lock(mu);
    if (from != call.get()) return;
    // The worker gave the request up (it stopped past its grace period, or unloaded the model)
    // while the client still waits: as if its stream broke, the call's end tries another worker.
    if (f.reason == FinishReason::kCancelled && !cancelled) return;
  }
  Finish(f);
}

void RemoteInferenceService::Request::Finish(serving::Finish f) {
  {
    std::lock_guard lock(mu);
    if (finished) return;
    finished = true;
  }
  sink->OnFinish(f);
}

void RemoteInferenceService::Request::OnCallDone(GenerateCall* from,
                                                 const std::shared_ptr<Worker>& worker,
                                                 const grpc::Status& status, bool first_seen,
                                                 bool cancelled_here) {
  {
    std::lock_guard service_lock(service->mu_);
    --worker->outstanding;
  }
  // A call this gateway cancelled (its client went away, or it gave up waiting and counted
  // that already) says nothing about the worker; one the worker or the network ended does.
  service->Record(worker, status.ok() ? Outcome::kSuccess : cancelled_here ? Outcome::kNeutral : Outcome::kFailure);
  std::shared_ptr<std::promise<Status>> w;
  bool cancelled_now = false;
  bool retry = false;
  std::string why;
  {
    std::lock_guard lock(mu);
    if (from != call.get()) return;  // abandoned (did not answer in time) or replaced
    call.reset();
    if (finished) return;
    why = "worker " + worker->address + ": " + (status.ok() ? "the stream ended early" : status.error_message());
    if (!first_seen) {
      w = std::move(waiter);
      waiter.reset();
    }
    if (!w) {
      cancelled_now = cancelled;
      retry = !cancelled && attempts < service->options_.max_attempts;
    }
    last_error = why;
  }
  if (!status.ok() && !cancelled_here) service->MarkDown(worker, why);
  if (w) {  // Submit is waiting: it decides
    w->set_value(UnavailableError(why));
  } else if (cancelled_now) {
    Finish({FinishReason::kCancelled, {}, Status::Ok(), ""});
  } else if (retry) {
    RetryInBackground();
  } else {
    Finish({FinishReason::kError, {}, UnavailableError("the generation failed: " + why), ""});
  }
}

void RemoteInferenceService::Request::RetryInBackground() {
  std::shared_ptr<Worker> worker = service->PickWorker(*this);
  if (!worker) {
    Finish({FinishReason::kError,
            {},
            UnavailableError("no other worker could take over: " + last_error),
            ""});
    return;
  }
  auto c = std::make_shared<GenerateCall>(shared_from_this(), worker);
  bool resumed = false;
  size_t n_sent = 0;
  bool gone = false;
  {
    std::lock_guard lock(mu);
    gone = cancelled;
    if (!gone) call = c;
  }
  if (gone) {
    // The client cancelled between the attempts, when there was no call to cancel.
    {
      std::lock_guard service_lock(service->mu_);
      --worker->outstanding;
      worker->breaker.OnNeutral();
    }
    service->Retire(std::move(worker));
    Finish({FinishReason::kCancelled, {}, Status::Ok(), ""});
    return;
  }
  {
    std::lock_guard lock(mu);
    // The previous call is done, so nothing reads the request while it changes.
    pb::GenerationOptions* options = proto.has_chat() ? proto.mutable_chat()->mutable_options()
                                                      : proto.mutable_completion()->mutable_options();
    options->clear_resume_tokens();
    options->mutable_resume_tokens()->Add(sent_tokens.begin(), sent_tokens.end());
    resumed = delivered;
    n_sent = sent_tokens.size();
  }
  if (resumed) {
    service->migrations_->Increment();
    spdlog::info("gateway: resuming a stream on {} after {} tokens ({})", worker->address, n_sent,
                 last_error);
  }
  c->Start();
}

RemoteInferenceService::RemoteInferenceService(RemoteInferenceOptions options)
    : options_(std::move(options)),
      embed_shares_(static_cast<size_t>(std::max(0, options_.embed_calls_per_caller))),
      submit_pool_(std::make_unique<FairPool>(
          std::max(1, options_.submit_threads),
          static_cast<size_t>(std::max(0, options_.submit_threads_per_caller)))),
      registry_(std::make_shared<prometheus::Registry>()) {
  state_ = &prometheus::BuildGauge()
                .Name("llmux_gateway_workers")
                .Help("Workers known to this gateway, by state (1 for the state it is in)")
                .Register(*registry_);
  requests_ = &prometheus::BuildCounter()
                   .Name("llmux_gateway_worker_requests_total")
                   .Help("Generation attempts sent to each worker")
                   .Register(*registry_);
  migrations_ = &prometheus::BuildCounter()
                     .Name("llmux_gateway_stream_migrations_total")
                     .Help("Streams resumed on another worker after theirs failed mid-stream")
                     .Register(*registry_)
                     .Add({});
  breaker_ = &prometheus::BuildGauge()
                  .Name("llmux_gateway_worker_breaker")
                  .Help("Each worker's circuit breaker, by state (1 for the state it is in)")
                  .Register(*registry_);
  failures_ = &prometheus::BuildCounter()
                   .Name("llmux_gateway_worker_failures_total")
                   .Help("Calls to each worker that failed (it is then marked down until it answers)")
                   .Register(*registry_);
  model_gauges_ = std::make_unique<ModelLoadGauges>(*registry_);
  vocab_ = std::make_unique<VocabCache>();
  cache_policy_ = CacheAwarePolicy(options_.cache_aware);
}

RemoteInferenceService::~RemoteInferenceService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // calls started from now on are cancelled at once (CallStarted)
    for (grpc::ClientContext* c : calls_) c->TryCancel();
  }
  submit_pool_.reset();  // runs the queued submits, which fail quickly now
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return calls_.empty(); });
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void RemoteInferenceService::CallStarted(grpc::ClientContext* context) {
  std::lock_guard lock(mu_);
  calls_.insert(context);
  if (stopping_) context->TryCancel();
}

void RemoteInferenceService::Retire(std::shared_ptr<void> object) {
  std::lock_guard lock(mu_);
  retired_.push_back(std::move(object));
}

void RemoteInferenceService::CallEnded(grpc::ClientContext* context) {
  // Notified under the lock: once it is released the destructor may run, and this thread must
  // not touch the service (or the call, which the destructor may then destroy) any more.
  std::lock_guard lock(mu_);
  calls_.erase(context);
  cv_.notify_all();
}

Status RemoteInferenceService::Start() {
  LLMUX_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ChannelCredentials> credentials,
      rpc::MakeChannelCredentials({options_.tls_ca_file, options_.tls_cert_file, options_.tls_key_file}));
  credentials_ = credentials;
  for (const std::string& address : options_.workers) AddWorker(address);
  refresher_ = std::thread([this] { RefreshLoop(); });
  return Status::Ok();
}

RoutePolicy RemoteInferenceOptions::PolicyFor(const std::string& model) const {
  auto it = model_policies.find(model);
  return it == model_policies.end() ? route_policy : it->second;
}

bool RemoteInferenceOptions::AnyCacheAware() const {
  if (route_policy == RoutePolicy::kCacheAware) return true;
  for (const auto& [model, policy] : model_policies) {
    if (policy == RoutePolicy::kCacheAware) return true;
  }
  return false;
}

void RemoteInferenceService::AddWorker(const std::string& address, bool standby, int capacity) {
  auto worker = std::make_shared<Worker>();
  worker->address = address;
  worker->standby = standby;
  worker->capacity = capacity;
  worker->breaker = CircuitBreaker(options_.breaker);
  grpc::ChannelArguments args;
  // Come back quickly after a failure (the default waits up to two minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(64 << 20);  // GetVocab: a model's vocabulary can be megabytes
  const int keepalive_ms = static_cast<int>(options_.keepalive.count());
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // a quiet session is pinged all the same
  auto channel = grpc::CreateCustomChannel(
      address, std::static_pointer_cast<grpc::ChannelCredentials>(credentials_), args);
  worker->stub = pb::Worker::NewStub(channel);
  worker->health = grpc::health::v1::Health::NewStub(channel);
  {
    std::lock_guard lock(mu_);
    if (workers_.count(address)) return;
    worker->up_gauge = &state_->Add({{"worker", address}, {"state", "up"}});
    worker->down_gauge = &state_->Add({{"worker", address}, {"state", "down"}});
    worker->requests = &requests_->Add({{"worker", address}});
    worker->failures = &failures_->Add({{"worker", address}});
    for (BreakerState s : {BreakerState::kClosed, BreakerState::kOpen, BreakerState::kHalfOpen}) {
      worker->breaker_gauges[static_cast<int>(s)] =
          &breaker_->Add({{"worker", address}, {"state", BreakerStateName(s)}});
    }
    SetStateGauges(*worker);
    workers_[address] = worker;
    refresh_now_ = true;
  }
  cv_.notify_all();
}

std::shared_ptr<WorkerSession> RemoteInferenceService::SessionFor(const std::shared_ptr<Worker>& worker) {
  std::shared_ptr<WorkerSession> session;
  {
    std::lock_guard lock(mu_);
    if (worker->session && !worker->session->broken()) return worker->session;
    session = std::make_shared<WorkerSession>(this);
    worker->session = session;
  }
  // Outside the lock (Start registers the call with the service); sends queued meanwhile
  // wait for it.
  session->Start(*worker->stub);
  return session;
}

void RemoteInferenceService::RemoveWorker(const std::string& address) {
  std::shared_ptr<WorkerSession> session;
  {
    std::lock_guard lock(mu_);
    auto it = workers_.find(address);
    if (it == workers_.end()) return;
    // Its session ends once the generations on it end (they go on: a draining worker finishes
    // them). Closed after the unlock: gRPC is not called under the service's lock.
    session = std::move(it->second->session);
    // Calls in flight keep the worker object; its metrics go now.
    state_->Remove(it->second->up_gauge);
    state_->Remove(it->second->down_gauge);
    requests_->Remove(it->second->requests);
    failures_->Remove(it->second->failures);
    for (prometheus::Gauge*& g : it->second->breaker_gauges) {
      breaker_->Remove(g);
      g = nullptr;
    }
    it->second->up_gauge = it->second->down_gauge = nullptr;
    it->second->requests = it->second->failures = nullptr;
    workers_.erase(it);
  }
  if (session) session->Close();
}

void RemoteInferenceService::SetStateGauges(Worker& w) {
  if (!w.up_gauge) return;
  w.up_gauge->Set(w.up ? 1 : 0);
  w.down_gauge->Set(w.up ? 0 : 1);
  const int state = static_cast<int>(w.breaker.state(CircuitBreaker::Clock::now()));
  for (int s = 0; s < 3; ++s) {
    if (w.breaker_gauges[s]) w.breaker_gauges[s]->Set(s == state ? 1 : 0);
  }
}

void RemoteInferenceService::Record(const std::shared_ptr<Worker>& worker, Outcome outcome) {
  std::lock_guard lock(mu_);
  const auto now = CircuitBreaker::Clock::now();
  const BreakerState before = worker->breaker.state(now);
  switch (outcome) {
    case Outcome::kSuccess:
      worker->breaker.OnSuccess(now);
      break;
    case Outcome::kFailure:
      worker->breaker.OnFailure(now);
      break;
    case Outcome::kNeutral:
      worker->breaker.OnNeutral();
      break;
  }
  const BreakerState after = worker->breaker.state(now);
  if (after != before) {
    spdlog::log(after == BreakerState::kOpen ? spdlog::level::warn : spdlog::level::info,
                "gateway: worker {}: circuit breaker {} -> {}", worker->address, BreakerStateName(before),
                BreakerStateName(after));
  }
  SetStateGauges(*worker);
}

void RemoteInferenceService::MarkDown(const std::shared_ptr<Worker>& worker, const std::string& why) {
  std::lock_guard lock(mu_);
  if (worker->failures) worker->failures->Increment();
  if (worker->up) spdlog::warn("gateway: {} is down until it answers again", why);
  worker->up = false;
  SetStateGauges(*worker);
}

std::shared_ptr<RemoteInferenceService::Worker> RemoteInferenceService::PickWorker(Request& request) {
  std::set<std::string> tried;
  {
    std::lock_guard request_lock(request.mu);
    tried = request.tried;
  }
  std::shared_ptr<Worker> w = PickWorkerFor(request.model, tried, request.blocks);
  if (!w) return nullptr;
  std::lock_guard request_lock(request.mu);
  request.tried.insert(w->address);
  ++request.attempts;
  return w;
}

std::shared_ptr<RemoteInferenceService::Worker> RemoteInferenceService::PickWorkerFor(
    const std::string& model, const std::set<std::string>& tried,
    const std::vector<uint64_t>& blocks) {
  std::lock_guard lock(mu_);
  if (stopping_) return nullptr;
  const auto now = CircuitBreaker::Clock::now();
  std::vector<WorkerView> views;
  std::vector<std::shared_ptr<Worker>> order;
  for (const auto& [address, w] : workers_) {
    const int capacity = options_.worker_capacity > 0 ? options_.worker_capacity : w->capacity;
    WorkerView v{address, w->up && w->serving && !w->draining && w->breaker.CanTake(now), w->standby, {},
                 w->outstanding, capacity};
    for (const ModelInfo& m : w->models) v.models.insert(m.id);
    views.push_back(std::move(v));
    order.push_back(w);
  }
  const RoutePolicy policy = options_.PolicyFor(model);
  const int i = policy == RoutePolicy::kCacheAware && !blocks.empty()
                    ? PickCacheAware(views, order, model, blocks, tried)
                    : router_.Pick(views, model, tried, policy);
  if (i < 0) return nullptr;
  std::shared_ptr<Worker> w = order[static_cast<size_t>(i)];
  w->breaker.Take(now);
  ++w->outstanding;
  if (w->requests) w->requests->Increment();
  return w;
}

Status RemoteInferenceService::NoWorkerFor(const std::string& model) const {
  bool any_up = false, listed = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& [address, w] : workers_) {
      any_up = any_up || w->up;
      for (const ModelInfo& m : w->models) listed = listed || m.id == model;
    }
  }
  if (!any_up) return UnavailableError("no worker is available; try again later");
  if (listed) {
    return UnavailableError("no worker serving the model '" + model +
                            "' can take a request now (failing health checks, circuit open or "
                            "draining); try again later");
  }
  return NotFoundError("the model '" + model + "' does not exist").WithField("model");
}

Result<std::shared_ptr<RequestHandle>> RemoteInferenceService::Submit(std::shared_ptr<Request> request) {
  Status last = Status::Ok();
  thread_local std::mt19937 jitter{std::random_device{}()};
  for (int failed = 0;; ++failed) {
    bool may_try = false;
    {
      std::lock_guard lock(request->mu);
      may_try = request->attempts < options_.max_attempts;
    }
    if (may_try && failed > 0) {
      // Backoff before the next worker, only here: nothing has reached the client yet.
      const auto cap = options_.max_retry_backoff.count();
      const auto base = std::min<int64_t>(cap, options_.retry_backoff.count() << std::min(failed - 1, 16));
      std::this_thread::sleep_for(std::chrono::milliseconds(
          base / 2 + std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, base / 2))(jitter)));
    }
    std::shared_ptr<Worker> worker = may_try ? PickWorker(*request) : nullptr;
    if (!worker) {
      if (!last.ok()) return last;
      return NoWorkerFor(request->model);
    }
    auto waiter = std::make_shared<std::promise<Status>>();
    std::future<Status> first = waiter->get_future();
    auto call = std::make_shared<GenerateCall>(request, worker);
    {
      std::lock_guard lock(request->mu);
      request->waiter = waiter;
      request->call = call;
    }
    call->Start();
    if (first.wait_for(options_.accept_timeout) == std::future_status::timeout) {
      {
        std::lock_guard lock(request->mu);
        request->waiter.reset();
        request->call.reset();  // abandoned: its end changes nothing
      }
      call->TryCancel();
      MarkDown(worker, "worker " + worker->address + " did not accept a request in time");
      Record(worker, Outcome::kFailure);
      last = UnavailableError("worker " + worker->address + " did not accept the request in time");
      continue;
    }
    Status status = first.get();
    if (status.ok()) return std::shared_ptr<RequestHandle>(request);
    if (!TryElsewhere(status)) return status;
    last = status;
  }
}

Result<std::shared_ptr<RequestHandle>> RemoteInferenceService::Chat(ChatRequest request,
                                                                    std::shared_ptr<Sink> sink) {
  FixSeed(request.options);
  if (routes_) request.model = routes_->Resolve(request.model);  // rollouts (model_routes.h)
  pb::GenerateRequest proto;
  *proto.mutable_chat() = wire::ToProto(request);
  auto r = NewRequest(request.model, std::move(proto), std::move(sink));
  if (options_.PolicyFor(request.model) == RoutePolicy::kCacheAware) {
    r->blocks = PromptBlocks(request.model, &request, nullptr);
  }
  return Submit(std::move(r));
}

Result<std::shared_ptr<RequestHandle>> RemoteInferenceService::Complete(CompletionRequest request,
                                                                        std::shared_ptr<Sink> sink) {
  FixSeed(request.options);
  if (routes_) request.model = routes_->Resolve(request.model);  // rollouts (model_routes.h)
  pb::GenerateRequest proto;
  *proto.mutable_completion() = wire::ToProto(request);
  auto r = NewRequest(request.model, std::move(proto), std::move(sink));
  if (options_.PolicyFor(request.model) == RoutePolicy::kCacheAware) {
    r->blocks = PromptBlocks(request.model, nullptr, &request);
  }
  return Submit(std::move(r));
}

void RemoteInferenceService::SubmitChat(ChatRequest request, std::shared_ptr<Sink> sink, Submitted done) {
  const std::string caller = request.options.caller_share;
  submit_pool_->Post(caller, [this, request = std::move(request), sink = std::move(sink),
                              done = std::move(done)]() mutable {
    done(Chat(std::move(request), std::move(sink)));
  });
}

void RemoteInferenceService::SubmitComplete(CompletionRequest request, std::shared_ptr<Sink> sink,
                                            Submitted done) {
  const std::string caller = request.options.caller_share;
  submit_pool_->Post(caller, [this, request = std::move(request), sink = std::move(sink),
                              done = std::move(done)]() mutable {
    done(Complete(std::move(request), std::move(sink)));
  });
}

std::shared_ptr<RemoteInferenceService::Request> RemoteInferenceService::NewRequest(
    std::string model, pb::GenerateRequest proto, std::shared_ptr<Sink> sink) {
  auto r = std::make_shared<Request>();
  r->service = this;
  r->model = std::move(model);
  r->proto = std::move(proto);
  r->sink = std::move(sink);
  return r;
}

std::vector<ModelInfo> RemoteInferenceService::ListModels() const {
  std::lock_guard lock(mu_);
  std::map<std::string, ModelInfo> by_id;
  for (const auto& [address, w] : workers_) {
    if (!w->up || w->draining) continue;
    for (const ModelInfo& m : w->models) by_id.emplace(m.id, m);
  }
  std::vector<ModelInfo> out;
  for (auto& [id, m] : by_id) out.push_back(m);
  return out;
}

bool RemoteInferenceService::Ready() const {
  std::lock_guard lock(mu_);
  for (const auto& [address, w] : workers_) {
    if (w->up && !w->draining && !w->models.empty()) return true;
  }
  return false;
}

void RemoteInferenceService::Refresh(const std::shared_ptr<Worker>& worker) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  pb::ListModelsRequest request;
  pb::ListModelsResponse response;
  const grpc::Status status = worker->stub->ListModels(&context, request, &response);
  // The active health check: the worker's own word on whether it serves (NOT_SERVING while it
  // loads or drains), separate from whether it answers at all.
  std::optional<bool> serving;
  if (status.ok() && options_.health_checks) {
    grpc::ClientContext health_context;
    health_context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
    grpc::health::v1::HealthCheckRequest check;
    check.set_service(std::string(pb::Worker::service_full_name()));
    grpc::health::v1::HealthCheckResponse answer;
    const grpc::Status health = worker->health->Check(&health_context, check, &answer);
    serving = health.ok() && answer.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  }
  std::lock_guard lock(mu_);
  if (serving && *serving != worker->serving) {
    spdlog::log(*serving ? spdlog::level::info : spdlog::level::warn, "gateway: worker {} {} its health check",
                worker->address, *serving ? "passes" : "fails");
    worker->serving = *serving;
  }
  if (!status.ok()) {
    if (worker->up) spdlog::warn("gateway: worker {} does not answer: {}", worker->address, status.error_message());
    worker->up = false;
  } else {
    if (!worker->up) spdlog::info("gateway: worker {} is up", worker->address);
    worker->up = true;
    worker->models.clear();
    for (const pb::ModelInfo& m : response.models()) {
      if (m.ready()) worker->models.push_back(wire::FromProto(m));
    }
    worker->statuses.clear();
    for (const pb::ModelStatus& m : response.statuses()) {
      Result<ModelStatus> s = wire::FromProto(m);
      if (s.ok()) worker->statuses.push_back(std::move(*s));
    }
  }
  SetStateGauges(*worker);
}

void RemoteInferenceService::RefreshLoop() {
  // Each worker is refreshed on a thread of its own, and a new round starts for it only once
  // its last one is over: a worker that does not answer costs its own deadlines, while the
  // others stay fresh every refresh_interval.
  std::map<std::string, std::future<void>> refreshing;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<std::shared_ptr<Worker>> all;
    for (const auto& [address, w] : workers_) all.push_back(w);
    refresh_now_ = false;
    std::vector<std::shared_ptr<void>> retired = std::move(retired_);
    retired_.clear();
    lock.unlock();
    retired.clear();  // here, off gRPC's threads, a removed worker's channel may go
    std::erase_if(refreshing, [](auto& entry) {
      return entry.second.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
    for (const auto& w : all) {
      if (refreshing.size() >= kRefreshParallel) break;
      if (refreshing.contains(w->address)) continue;
      refreshing[w->address] = std::async(std::launch::async, [this, w] {
        Refresh(w);
        RefreshLoad(w);
      });
    }
    UpdateModelGauges();
    lock.lock();
    cv_.wait_for(lock, options_.refresh_interval, [this] { return stopping_ || refresh_now_; });
  }
  lock.unlock();
  refreshing.clear();  // waits for the rounds still running
}

std::vector<WorkerStatus> RemoteInferenceService::Workers() const {
  std::lock_guard lock(mu_);
  std::vector<WorkerStatus> out;
  for (const auto& [address, w] : workers_) {
    WorkerStatus s;
    s.address = address;
    s.state = w->draining ? "draining" : w->up ? "up" : "down";
    s.standby = w->standby;
    for (const ModelInfo& m : w->models) s.models.push_back(m.id);
    s.outstanding = w->outstanding;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<WorkerModelStatus> RemoteInferenceService::WorkerModels() const {
  std::lock_guard lock(mu_);
  std::vector<WorkerModelStatus> out;
  for (const auto& [address, w] : workers_) {
    for (const ModelStatus& s : w->statuses) out.push_back({address, s});
  }
  return out;
}

Result<int> RemoteInferenceService::DrainWorker(const std::string& address) {
  std::shared_ptr<Worker> worker;
  {
    std::lock_guard lock(mu_);
    auto it = workers_.find(address);
    if (it == workers_.end()) {
      return NotFoundError("no worker '" + address + "' is known to this gateway").WithField("worker");
    }
    worker = it->second;
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  pb::DrainRequest request;
  pb::DrainReply reply;
  const grpc::Status status = worker->stub->Drain(&context, request, &reply);
  if (!status.ok()) {
    return UnavailableError("worker " + address + " did not take the drain: " + status.error_message());
  }
  std::lock_guard lock(mu_);
  worker->draining = true;
  SetStateGauges(*worker);
  spdlog::info("gateway: worker {} drains ({} generations running)", address, reply.in_flight());
  return reply.in_flight();
}

// Cache-aware routing and per-model metrics: load reports, vocabularies, prompt block hashes.

void RemoteInferenceService::RefreshLoad(const std::shared_ptr<Worker>& worker) {
  pb::LoadRequest request;
  std::set<std::string> listed;
  {
    std::lock_guard lock(mu_);
    if (!worker->up) {
      worker->prefix.Clear();  // a worker that comes back reports its whole set again
      return;
    }
    request = MakeLoadRequest(worker->prefix, options_.AnyCacheAware());
    for (const ModelInfo& m : worker->models) listed.insert(m.id);
  }
  Result<std::vector<ModelLoad>> loads = CallLoad(*worker->stub, request);
  if (!loads.ok()) {
    spdlog::debug("gateway: worker {}: {}", worker->address, loads.status().ToString());
    return;  // ListModels decides whether it is up
  }
  {
    std::lock_guard lock(mu_);
    std::set<std::string> reported;
    for (ModelLoad& m : *loads) {
      reported.insert(m.model);
      worker->prefix.Apply(std::move(m));
    }
    worker->prefix.Retain(reported);
  }
  // Vocabularies serve cache-aware routing and /tokenize: fetched once per model.
  for (const std::string& model : listed) {
    if (vocab_->Has(model)) continue;
    Status s = FetchVocab(*worker->stub, model, *vocab_);
    if (!s.ok()) spdlog::warn("gateway: no vocabulary of {} yet: {}", model, s.ToString());
  }
}

void RemoteInferenceService::UpdateModelGauges() {
  std::map<std::string, ModelLoadTotals> totals;
  {
    std::lock_guard lock(mu_);
    for (const auto& [address, w] : workers_) {
      if (w->up) AddModelLoads(w->prefix, totals);
    }
  }
  model_gauges_->Update(totals);
}

Result<std::shared_ptr<const PromptBuilder>> RemoteInferenceService::Vocabulary(
    const std::string& model) const {
  std::shared_ptr<const PromptBuilder> builder = vocab_->Get(model);
  if (!builder) {
    return UnavailableError("no vocabulary of the model '" + model +
                            "' here yet (it comes from a worker that serves it)");
  }
  return builder;
}

Result<std::vector<int32_t>> RemoteInferenceService::Tokenize(const std::string& model,
                                                              std::string_view text,
                                                              bool add_special) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<const PromptBuilder> builder, Vocabulary(model));
  return builder->tokenizer().Encode(text, add_special, /*parse_special=*/true);
}

Result<int> RemoteInferenceService::CountChatTokens(const ChatRequest& request) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<const PromptBuilder> builder, Vocabulary(request.model));
  LLMUX_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, builder->Chat(request));
  return static_cast<int>(prompt.size());
}

Result<std::string> RemoteInferenceService::Detokenize(const std::string& model,
                                                       std::span<const int32_t> ids) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<const PromptBuilder> builder, Vocabulary(model));
  return DecodeClientIds(builder->tokenizer(), ids);
}

std::vector<uint64_t> RemoteInferenceService::PromptBlocks(const std::string& model, const ChatRequest* chat,
                                                           const CompletionRequest* completion) const {
  std::shared_ptr<const PromptBuilder> builder = vocab_->Get(model);
  if (!builder) return {};
  int block_size = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [address, w] : workers_) {
      const PrefixIndex::ModelState* s = w->prefix.Find(model);
      if (s && s->load.block_size > 0) {
        block_size = s->load.block_size;
        break;
      }
    }
  }
  if (block_size == 0) return {};
  std::vector<int32_t> tokens;
  if (chat) {
    Result<std::vector<int32_t>> t = builder->Chat(*chat);
    if (!t.ok()) return {};  // the worker refuses it with the reason
    tokens = std::move(*t);
  } else {
    tokens = builder->Completion(completion->prompt);
  }
  return PromptBlockHashes(tokens, block_size);
}

int RemoteInferenceService::PickCacheAware(const std::vector<WorkerView>& views,
                                           const std::vector<std::shared_ptr<Worker>>& order,
                                           const std::string& model,
                                           const std::vector<uint64_t>& blocks,
                                           const std::set<std::string>& tried) {
  std::vector<const PrefixIndex*> indexes;
  indexes.reserve(order.size());
  for (const auto& w : order) indexes.push_back(&w->prefix);
  return cache_policy_.Pick(views, indexes, model, tried, blocks);
}

std::string RemoteInferenceService::MetricsText() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

// Embeddings: one unary Embed call to one worker at a time.

class RemoteInferenceService::EmbedCall final : public std::enable_shared_from_this<EmbedCall> {
 public:
  EmbedCall(RemoteInferenceService* service, std::string model, pb::EmbedRequest proto,
            Embedded done, std::unique_ptr<CallerShares::Slot> slot)
      : service_(service),
        model_(std::move(model)),
        proto_(std::move(proto)),
        done_(std::move(done)),
        slot_(std::move(slot)) {}

  // Keeps itself alive until it ends (then the service keeps it, see Retire).
  void Start() {
    self_ = shared_from_this();
    Attempt();
  }

 private:
  // Sends the request to the next worker, or ends the call with why none could take it.
  void Attempt() {
    std::shared_ptr<Worker> worker = attempts_ < service_->options_.max_attempts
                                         ? service_->PickWorkerFor(model_, tried_, {})
                                         : nullptr;
    if (!worker) {
      End(last_.ok() ? service_->NoWorkerFor(model_) : last_);
      return;
    }
    ++attempts_;
    tried_.insert(worker->address);
    workers_.push_back(worker);
    grpc::ClientContext* context =
        contexts_.emplace_back(std::make_unique<grpc::ClientContext>()).get();
    context->set_deadline(std::chrono::system_clock::now() + service_->options_.embed_timeout);
    response_.Clear();
    service_->CallStarted(context);
    // The callback holds no channel: its last reference must not go on a gRPC thread.
    worker->stub->async()->Embed(
        context, &proto_, &response_,
        [this, context](grpc::Status status) { OnDone(context, std::move(status)); });
  }

  void OnDone(grpc::ClientContext* context, const grpc::Status& status) {
    const std::shared_ptr<Worker> worker = workers_.back();
    RemoteInferenceService* service = service_;
    {
      std::lock_guard lock(service->mu_);
      --worker->outstanding;
    }
    const std::string at = "worker " + worker->address;
    Result<EmbedResult> result = UnavailableError(at + ": " + status.error_message());
    if (status.ok()) {
      result = wire::FromProto(response_);
      service->Record(worker, Outcome::kSuccess);
    } else if (status.error_code() == grpc::StatusCode::CANCELLED) {
      service->Record(worker, Outcome::kNeutral);  // this gateway stops
    } else {
      service->Record(worker, Outcome::kFailure);
      service->MarkDown(worker, at + ": " + status.error_message());
    }
    if (!result.ok() && TryElsewhere(result.status())) {
      last_ = result.status();
      Attempt();  // the next call starts before this one ends: the service waits for both
    } else {
      End(std::move(result));
    }
    // The last use of the service; `this` may be gone already (End retired it), and the
    // context is only a key here.
    service->CallEnded(context);
  }

  void End(Result<EmbedResult> result) {
    Embedded done = std::move(done_);
    slot_.reset();
    --service_->embed_calls_;
    RemoteInferenceService* service = service_;
    service->Retire(std::move(self_));  // its workers hold channels (see Retire)
    done(std::move(result));
  }

  RemoteInferenceService* service_;
  const std::string model_;
  const pb::EmbedRequest proto_;
  Embedded done_;
  std::unique_ptr<CallerShares::Slot> slot_;
  std::shared_ptr<EmbedCall> self_;
  // One attempt at a time: the members below change only in Attempt and OnDone, in turn.
  int attempts_ = 0;
  std::set<std::string> tried_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  pb::EmbedResponse response_;
  Status last_;
};

void RemoteInferenceService::SubmitEmbed(EmbedRequest request, Embedded done) {
  if (request.inputs.empty() || request.inputs.size() > static_cast<size_t>(kMaxEmbedInputs)) {
    return done(
        InvalidArgumentError("input must hold 1 to " + std::to_string(kMaxEmbedInputs) + " items")
            .WithField("input"));
  }
  if (request.dimensions < 0) {
    return done(InvalidArgumentError("dimensions must not be negative").WithField("dimensions"));
  }
  if (routes_) request.model = routes_->Resolve(request.model);  // rollouts (model_routes.h)
  std::unique_ptr<CallerShares::Slot> slot;
  if (!request.caller_share.empty()) {
    slot = embed_shares_.TryAcquire(request.caller_share);
    if (!slot) {
      return done(ResourceExhaustedError(
          "this caller already has " + std::to_string(embed_shares_.per_caller()) +
          " embedding requests in flight on this gateway, its share; try "
          "again later"));
    }
  }
  if (++embed_calls_ > options_.max_embed_calls) {
    --embed_calls_;
    return done(ResourceExhaustedError(
        std::to_string(options_.max_embed_calls) +
        " embedding requests are in flight on this gateway; try again later"));
  }
  std::string model = request.model;
  auto call = std::make_shared<EmbedCall>(this, std::move(model), wire::ToProto(request),
                                          std::move(done), std::move(slot));
  call->Start();
}

}  // namespace llmux::serving
