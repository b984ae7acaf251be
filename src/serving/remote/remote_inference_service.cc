#include "serving/remote/remote_inference_service.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "llmux/worker/v1/worker.grpc.pb.h"
#include "net/grpc/grpc_tls.h"
#include "serving/remote/worker_wire.h"

namespace llmux::serving {

namespace pb = ::llmux::worker::v1;

struct RemoteInferenceService::Worker {
  std::string address;
  bool standby = false;
  std::unique_ptr<pb::Worker::Stub> stub;
  // Guarded by the service's mutex.
  bool up = false;
  std::vector<ModelInfo> models;  // ready ones
  int outstanding = 0;
  prometheus::Gauge* up_gauge = nullptr;
  prometheus::Gauge* down_gauge = nullptr;
  prometheus::Counter* requests = nullptr;
  prometheus::Counter* failures = nullptr;
};

namespace {

class GenerateCall;

}  // namespace

// One request's life across its attempts. The calls hold it; the caller holds it as the handle.
struct RemoteInferenceService::Request : RequestHandle,
                                         std::enable_shared_from_this<RemoteInferenceService::Request> {
  RemoteInferenceService* service = nullptr;
  std::string model;
  pb::GenerateRequest proto;
  std::shared_ptr<Sink> sink;

  std::mutex mu;
  std::set<std::string> tried;
  int attempts = 0;
  bool delivered = false;  // a delta reached the sink: no more retries
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
                  const grpc::Status& status, bool first_seen);
  void Finish(Finish finish);  // with mu held by nobody
  // Starts another attempt without a waiting caller (the stream failed before any delta).
  void RetryInBackground();
};

namespace {

// One Generate call to one worker.
class GenerateCall final : public grpc::ClientReadReactor<pb::GenerateEvent>,
                           public std::enable_shared_from_this<GenerateCall> {
 public:
  GenerateCall(std::shared_ptr<RemoteInferenceService::Request> request,
               std::shared_ptr<RemoteInferenceService::Worker> worker)
      : request_(std::move(request)), worker_(std::move(worker)) {}

  // Keeps itself alive until gRPC is done with it (OnDone).
  void Start() {
    self_ = shared_from_this();
    request_->service->CallStarted(&context_);
    worker_->stub->async()->Generate(&context_, &request_->proto, this);
    StartRead(&event_);
    StartCall();
  }
  void TryCancel() { context_.TryCancel(); }
  const std::string& address() const { return worker_->address; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    if (!first_seen_) {
      first_seen_ = true;
      request_->OnFirst(this, event_.has_refused() ? serving::wire::FromProto(event_.refused())
                                                  : Status::Ok());
    } else if (event_.has_delta()) {
      request_->OnDelta(this, serving::wire::FromProto(event_.delta()));
    } else if (event_.has_finish()) {
      Result<Finish> finish = serving::wire::FromProto(event_.finish());
      request_->OnFinish(this, finish.ok() ? *finish : Finish{FinishReason::kError, {}, finish.status()});
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    RemoteInferenceService* service = request_->service;
    request_->OnCallDone(this, worker_, status, first_seen_);
    service->CallEnded(&context_);  // the last use of the service
    self_.reset();  // may destroy this object: nothing after it
  }

 private:
  std::shared_ptr<RemoteInferenceService::Request> request_;
  std::shared_ptr<RemoteInferenceService::Worker> worker_;
  grpc::ClientContext context_;
  pb::GenerateEvent event_;
  bool first_seen_ = false;
  std::shared_ptr<GenerateCall> self_;
};

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
  {
    std::lock_guard lock(mu);
    if (from != call.get()) return;
    w = std::move(waiter);
    waiter.reset();
    if (!w && !refusal.ok()) {
      // A background retry refused: the request ends with the refusal.
      call.reset();
    }
  }
  if (w) {
    w->set_value(refusal);
  } else if (!refusal.ok()) {
    Finish({FinishReason::kError, {}, refusal});
  }
}

void RemoteInferenceService::Request::OnDelta(GenerateCall* from, const Delta& delta) {
  {
    std::lock_guard lock(mu);
    if (from != call.get() || finished) return;
    delivered = true;
  }
  sink->OnDelta(delta);
}

void RemoteInferenceService::Request::OnFinish(GenerateCall* from, const serving::Finish& f) {
  {
    std::lock_guard lock(mu);
    if (from != call.get()) return;
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
                                                 const grpc::Status& status, bool first_seen) {
  {
    std::lock_guard service_lock(service->mu_);
    --worker->outstanding;
  }
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
      retry = !cancelled && !delivered && attempts < service->options_.max_attempts;
    }
    last_error = why;
  }
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) service->MarkDown(worker, why);
  if (w) {  // Submit is waiting: it decides
    w->set_value(UnavailableError(why));
  } else if (cancelled_now) {
    Finish({FinishReason::kCancelled, {}, Status::Ok()});
  } else if (retry) {
    RetryInBackground();
  } else {
    Finish({FinishReason::kError, {}, UnavailableError("the generation failed: " + why)});
  }
}

void RemoteInferenceService::Request::RetryInBackground() {
  std::shared_ptr<Worker> worker = service->PickWorker(*this);
  if (!worker) {
    Finish({FinishReason::kError, {}, UnavailableError("no other worker could take over: " + last_error)});
    return;
  }
  auto c = std::make_shared<GenerateCall>(shared_from_this(), worker);
  {
    std::lock_guard lock(mu);
    call = c;
  }
  c->Start();
}

RemoteInferenceService::RemoteInferenceService(RemoteInferenceOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {
  state_ = &prometheus::BuildGauge()
                .Name("llmux_gateway_workers")
                .Help("Workers known to this gateway, by state (1 for the state it is in)")
                .Register(*registry_);
  requests_ = &prometheus::BuildCounter()
                   .Name("llmux_gateway_worker_requests_total")
                   .Help("Generation attempts sent to each worker")
                   .Register(*registry_);
  failures_ = &prometheus::BuildCounter()
                   .Name("llmux_gateway_worker_failures_total")
                   .Help("Calls to each worker that failed (it is then marked down until it answers)")
                   .Register(*registry_);
}

RemoteInferenceService::~RemoteInferenceService() {
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    for (grpc::ClientContext* c : calls_) c->TryCancel();
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

void RemoteInferenceService::CallEnded(grpc::ClientContext* context) {
  {
    std::lock_guard lock(mu_);
    calls_.erase(context);
  }
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

void RemoteInferenceService::AddWorker(const std::string& address, bool standby) {
  auto worker = std::make_shared<Worker>();
  worker->address = address;
  worker->standby = standby;
  grpc::ChannelArguments args;
  // Come back quickly after a failure (the default waits up to two minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(
      address, std::static_pointer_cast<grpc::ChannelCredentials>(credentials_), args);
  worker->stub = pb::Worker::NewStub(channel);
  {
    std::lock_guard lock(mu_);
    if (workers_.count(address)) return;
    worker->up_gauge = &state_->Add({{"worker", address}, {"state", "up"}});
    worker->down_gauge = &state_->Add({{"worker", address}, {"state", "down"}});
    worker->requests = &requests_->Add({{"worker", address}});
    worker->failures = &failures_->Add({{"worker", address}});
    SetStateGauges(*worker);
    workers_[address] = worker;
    refresh_now_ = true;
  }
  cv_.notify_all();
}

void RemoteInferenceService::RemoveWorker(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = workers_.find(address);
  if (it == workers_.end()) return;
  // Calls in flight keep the worker object; its metrics go now.
  state_->Remove(it->second->up_gauge);
  state_->Remove(it->second->down_gauge);
  requests_->Remove(it->second->requests);
  failures_->Remove(it->second->failures);
  it->second->up_gauge = it->second->down_gauge = nullptr;
  it->second->requests = it->second->failures = nullptr;
  workers_.erase(it);
}

void RemoteInferenceService::SetStateGauges(Worker& w) {
  if (!w.up_gauge) return;
  w.up_gauge->Set(w.up ? 1 : 0);
  w.down_gauge->Set(w.up ? 0 : 1);
}

void RemoteInferenceService::MarkDown(const std::shared_ptr<Worker>& worker, const std::string& why) {
  std::lock_guard lock(mu_);
  if (worker->failures) worker->failures->Increment();
  if (worker->up) spdlog::warn("gateway: {} is down until it answers again", why);
  worker->up = false;
  SetStateGauges(*worker);
}

std::shared_ptr<RemoteInferenceService::Worker> RemoteInferenceService::PickWorker(Request& request) {
  std::lock_guard lock(mu_);
  if (stopping_) return nullptr;
  std::vector<WorkerView> views;
  std::vector<std::shared_ptr<Worker>> order;
  for (const auto& [address, w] : workers_) {
    WorkerView v{address, w->up, w->standby, {}, w->outstanding};
    for (const ModelInfo& m : w->models) v.models.insert(m.id);
    views.push_back(std::move(v));
    order.push_back(w);
  }
  std::set<std::string> tried;
  {
    std::lock_guard request_lock(request.mu);
    tried = request.tried;
  }
  const int i = router_.Pick(views, request.model, tried);
  if (i < 0) return nullptr;
  std::shared_ptr<Worker> w = order[static_cast<size_t>(i)];
  ++w->outstanding;
  if (w->requests) w->requests->Increment();
  std::lock_guard request_lock(request.mu);
  request.tried.insert(w->address);
  ++request.attempts;
  return w;
}

Result<std::shared_ptr<RequestHandle>> RemoteInferenceService::Submit(std::shared_ptr<Request> request) {
  Status last = Status::Ok();
  for (;;) {
    bool may_try = false;
    {
      std::lock_guard lock(request->mu);
      may_try = request->attempts < options_.max_attempts;
    }
    std::shared_ptr<Worker> worker = may_try ? PickWorker(*request) : nullptr;
    if (!worker) {
      if (!last.ok()) return last;
      bool any_up = false;
      {
        std::lock_guard lock(mu_);
        for (const auto& [address, w] : workers_) any_up = any_up || w->up;
      }
      if (!any_up) return UnavailableError("no worker is available; try again later");
      return NotFoundError("the model '" + request->model + "' does not exist").WithField("model");
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
  if (routes_) request.model = routes_->Resolve(request.model);  // rollouts (model_routes.h)
  pb::GenerateRequest proto;
  *proto.mutable_chat() = wire::ToProto(request);
  return Submit(NewRequest(request.model, std::move(proto), std::move(sink)));
}

Result<std::shared_ptr<RequestHandle>> RemoteInferenceService::Complete(CompletionRequest request,
                                                                        std::shared_ptr<Sink> sink) {
  if (routes_) request.model = routes_->Resolve(request.model);  // rollouts (model_routes.h)
  pb::GenerateRequest proto;
  *proto.mutable_completion() = wire::ToProto(request);
  return Submit(NewRequest(request.model, std::move(proto), std::move(sink)));
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
    if (!w->up) continue;
    for (const ModelInfo& m : w->models) by_id.emplace(m.id, m);
  }
  std::vector<ModelInfo> out;
  for (auto& [id, m] : by_id) out.push_back(m);
  return out;
}

bool RemoteInferenceService::Ready() const {
  std::lock_guard lock(mu_);
  for (const auto& [address, w] : workers_) {
    if (w->up && !w->models.empty()) return true;
  }
  return false;
}

void RemoteInferenceService::Refresh(const std::shared_ptr<Worker>& worker) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  pb::ListModelsRequest request;
  pb::ListModelsResponse response;
  const grpc::Status status = worker->stub->ListModels(&context, request, &response);
  std::lock_guard lock(mu_);
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
  }
  SetStateGauges(*worker);
}

void RemoteInferenceService::RefreshLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<std::shared_ptr<Worker>> all;
    for (const auto& [address, w] : workers_) all.push_back(w);
    refresh_now_ = false;
    lock.unlock();
    for (const auto& w : all) Refresh(w);
    lock.lock();
    cv_.wait_for(lock, options_.refresh_interval, [this] { return stopping_ || refresh_now_; });
  }
}

std::string RemoteInferenceService::MetricsText() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace llmux::serving
