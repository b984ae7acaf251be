#include "worker/worker_service.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "serving/model_manager.h"
#include "serving/remote/worker_wire.h"
#include "worker/load_report.h"

namespace llmux::worker {

namespace {

namespace wire = serving::wire;
using Event = v1::GenerateEvent;

// The engine's callbacks as events. Until Accept() (the service took the request) events are
// held back, so that `accepted` is always the first event even when the engine is quicker
// than the return from Chat/Complete.
//
// Coalescing window: after a delta goes out, the deltas of the next `window` are merged and
// sent as one message when the window ends (by the engine's next delta after it, or by the
// flush timer when none comes), and before the finish. A model that produces a token every
// few milliseconds or slower sends one message per delta as before; one faster than the
// window (a small model, or many tokens per step) sends fewer, larger messages, and every
// message costs the worker and the gateway a write, a read and thread wake-ups.
class EventSink final : public serving::Sink,
                        public Flushable,
                        public std::enable_shared_from_this<EventSink> {
 public:
  // `push` sends one event of this generation (any thread; never blocks).
  EventSink(std::function<void(Event)> push, std::shared_ptr<std::atomic<int>> in_flight,
            std::shared_ptr<FlushTimer> timer, FlushTimer::Clock::duration window)
      : push_(std::move(push)),
        in_flight_(std::move(in_flight)),
        timer_(std::move(timer)),
        window_(window) {}

  void Accept() {
    ++*in_flight_;
    std::lock_guard lock(mu_);
    Event accepted;
    accepted.mutable_accepted();
    push_(std::move(accepted));
    // With a window, the deltas held meanwhile go merged, as they would have after it.
    for (Event& e : held_) {
      if (e.has_delta() && window_ > FlushTimer::Clock::duration::zero()) {
        if (pending_) {
          wire::AppendDelta(*pending_, std::move(*e.mutable_delta()));
        } else {
          pending_ = std::move(*e.mutable_delta());
        }
        continue;
      }
      if (pending_) SendPending(FlushTimer::Clock::now());
      Send(std::move(e));
    }
    if (pending_) SendPending(FlushTimer::Clock::now());
    held_.clear();
    accepted_ = true;
  }

  void OnDelta(const serving::Delta& delta) override {
    wire::pb::Delta d = wire::ToProto(delta);
    std::lock_guard lock(mu_);
    if (!accepted_) {
      Event e;
      *e.mutable_delta() = std::move(d);
      held_.push_back(std::move(e));
      return;
    }
    if (window_ <= FlushTimer::Clock::duration::zero()) {
      SendDelta(std::move(d));
      return;
    }
    if (pending_) {
      wire::AppendDelta(*pending_, std::move(d));
    } else {
      pending_ = std::move(d);
    }
    const auto now = FlushTimer::Clock::now();
    if (now >= window_end_) {
      SendPending(now);
    } else if (!timer_armed_) {
      timer_armed_ = true;
      timer_->At(window_end_, weak_from_this());
    }
  }

  void OnFinish(const serving::Finish& finish) override {
    Event e;
    *e.mutable_finish() = wire::ToProto(finish);
    std::lock_guard lock(mu_);
    if (!accepted_) {
      held_.push_back(std::move(e));
      return;
    }
    if (pending_) SendPending(FlushTimer::Clock::now());
    Send(std::move(e));
  }

  // The flush timer: the window ended with no delta after it.
  void Flush() override {
    std::lock_guard lock(mu_);
    timer_armed_ = false;
    if (!pending_) return;
    const auto now = FlushTimer::Clock::now();
    if (now >= window_end_) {
      SendPending(now);
    } else {  // an earlier window's timer: the merged delta waits for this window's end
      timer_armed_ = true;
      timer_->At(window_end_, weak_from_this());
    }
  }

 private:
  void SendPending(FlushTimer::Clock::time_point now) {
    SendDelta(std::move(*pending_));
    pending_.reset();
    window_end_ = now + window_;
  }

  void SendDelta(wire::pb::Delta d) {
    Event e;
    *e.mutable_delta() = std::move(d);
    Send(std::move(e));
  }

  void Send(Event e) {
    const bool last = e.has_finish();
    push_(std::move(e));
    if (last) --*in_flight_;
  }

  std::function<void(Event)> push_;
  std::shared_ptr<std::atomic<int>> in_flight_;
  std::shared_ptr<FlushTimer> timer_;
  const FlushTimer::Clock::duration window_;
  std::mutex mu_;
  bool accepted_ = false;
  std::vector<Event> held_;
  std::optional<wire::pb::Delta> pending_;  // deltas of the current window, merged
  FlushTimer::Clock::time_point window_end_{};  // when the next message may go out
  bool timer_armed_ = false;
};

// The write side of one session, shared by its reactor and the generations' sinks (which may
// outlive the call): events queue here and go out in batches, one write outstanding at a time;
// whatever queued meanwhile (the rest of an engine step) goes in the next message.
class SessionOut {
 public:
  explicit SessionOut(grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionEvents>* reactor)
      : reactor_(reactor) {}

  // Ends the generation's entry when the event is its last (finish or refused).
  void Push(uint64_t id, Event event) {
    std::unique_lock lock(mu_);
    if (broken_) return;
    if (event.has_finish() || event.has_refused()) running_.erase(id);
    v1::SessionEvent& e = pending_.emplace_back();
    e.set_id(id);
    *e.mutable_event() = std::move(event);
    Pump(lock);
  }

  // Keeps the handle to cancel the generation with; false when the call already broke.
  bool Add(uint64_t id, std::shared_ptr<serving::RequestHandle> handle) {
    std::lock_guard lock(mu_);
    if (broken_) return false;
    running_[id] = std::move(handle);
    return true;
  }
  bool Has(uint64_t id) const {
    std::lock_guard lock(mu_);
    return running_.count(id) > 0;
  }
  void Cancel(uint64_t id) {
    std::shared_ptr<serving::RequestHandle> handle;
    {
      std::lock_guard lock(mu_);
      auto it = running_.find(id);
      if (it != running_.end()) handle = it->second;
    }
    if (handle) handle->Cancel();
  }

  // The gateway sends no more requests: end the call once the running generations finished.
  void ReadsDone() {
    std::unique_lock lock(mu_);
    reads_done_ = true;
    Pump(lock);
  }
  // The call broke (a failed write, a cancel, a request that breaks the protocol): nothing more
  // goes out but the call's end with `status`; every generation stops.
  void Break(grpc::Status status = grpc::Status(grpc::StatusCode::CANCELLED, "session broken")) {
    std::map<uint64_t, std::shared_ptr<serving::RequestHandle>> running;
    {
      std::unique_lock lock(mu_);
      if (!broken_) {
        broken_ = true;
        status_ = std::move(status);
        pending_.clear();
        running.swap(running_);
      }
      Pump(lock);
    }
    for (auto& [id, handle] : running) handle->Cancel();
  }
  void OnWriteDone(bool ok) {
    {
      std::unique_lock lock(mu_);
      writing_ = false;
      if (ok) {
        Pump(lock);
        return;
      }
    }
    Break();
  }
  void OnDone() {
    {
      std::lock_guard lock(mu_);
      reactor_ = nullptr;
    }
    Break();
  }

 private:
  // At most this many events per message, so that a message stays far below gRPC's limits.
  static constexpr size_t kMaxBatch = 256;

  // Starts the next write, or the call's end; unlocks `lock` when it calls the reactor.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (writing_ || finish_called_ || reactor_ == nullptr) return;
    auto* reactor = reactor_;
    if (!broken_ && !pending_.empty()) {
      current_.Clear();
      const size_t n = std::min(pending_.size(), kMaxBatch);
      for (size_t i = 0; i < n; ++i) *current_.add_events() = std::move(pending_[i]);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
      writing_ = true;
      lock.unlock();
      reactor->StartWrite(&current_);
    } else if (broken_ || (reads_done_ && running_.empty() && pending_.empty())) {
      finish_called_ = true;
      lock.unlock();
      reactor->Finish(broken_ ? status_ : grpc::Status::OK);
    }
  }

  mutable std::mutex mu_;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionEvents>* reactor_;  // null after OnDone
  std::map<uint64_t, std::shared_ptr<serving::RequestHandle>> running_;  // accepted, not finished
  std::vector<v1::SessionEvent> pending_;
  v1::SessionEvents current_;  // the message being written; stable while writing_
  bool writing_ = false;
  bool finish_called_ = false;
  bool reads_done_ = false;
  bool broken_ = false;
  grpc::Status status_;  // the call's end once broken
};

Event Refused(const Status& status) {
  Event e;
  *e.mutable_refused() = wire::ToProto(status);
  return e;
}

// One session: reads requests one after the other and submits each to the service on the
// thread that read it (a local service answers at once); SessionOut writes the events.
class SessionReactor final : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionEvents> {
 public:
  SessionReactor(serving::InferenceService& service, std::shared_ptr<std::atomic<int>> in_flight,
                 std::shared_ptr<FlushTimer> timer, FlushTimer::Clock::duration window)
      : service_(service),
        in_flight_(std::move(in_flight)),
        timer_(std::move(timer)),
        window_(window),
        out_(std::make_shared<SessionOut>(this)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      out_->ReadsDone();
      return;
    }
    const uint64_t id = request_.id();
    if (request_.has_cancel()) {
      out_->Cancel(id);
    } else if (out_->Has(id)) {
      // Its events could not be told from the running one's: the gateway is broken.
      out_->Break(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "generation id " + std::to_string(id) + " is in use on this session"));
      return;
    } else {
      Submit(id);
    }
    StartRead(&request_);
  }
  void OnWriteDone(bool ok) override { out_->OnWriteDone(ok); }
  void OnCancel() override { out_->Break(); }
  void OnDone() override {
    out_->OnDone();
    delete this;
  }

 private:
  void Submit(uint64_t id) {
    std::shared_ptr<SessionOut> out = out_;
    auto sink = std::make_shared<EventSink>([out, id](Event e) { out->Push(id, std::move(e)); }, in_flight_,
                                            timer_, window_);
    Result<std::shared_ptr<serving::RequestHandle>> handle = InvalidArgumentError("no request");
    const v1::GenerateRequest& generate = request_.generate();
    if (generate.has_chat()) {
      Result<serving::ChatRequest> chat = wire::FromProto(generate.chat());
      handle = chat.ok() ? service_.Chat(std::move(chat).value(), sink) : chat.status();
    } else if (generate.has_completion()) {
      Result<serving::CompletionRequest> completion = wire::FromProto(generate.completion());
      handle = completion.ok() ? service_.Complete(std::move(completion).value(), sink) : completion.status();
    }
    if (!handle.ok()) {
      out->Push(id, Refused(handle.status()));
      return;
    }
    // Added before Accept: the sink holds its events (the finish among them) until then.
    if (!out->Add(id, *handle)) (*handle)->Cancel();
    sink->Accept();
  }

  serving::InferenceService& service_;
  std::shared_ptr<std::atomic<int>> in_flight_;
  std::shared_ptr<FlushTimer> timer_;
  const FlushTimer::Clock::duration window_;
  std::shared_ptr<SessionOut> out_;
  v1::SessionRequest request_;
};

}  // namespace

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionEvents>* WorkerGrpcService::Session(
    grpc::CallbackServerContext*) {
  return new SessionReactor(service_, in_flight_, flush_timer_, window_);
}

grpc::ServerUnaryReactor* WorkerGrpcService::ListModels(grpc::CallbackServerContext* context,
                                                        const v1::ListModelsRequest*,
                                                        v1::ListModelsResponse* response) {
  for (const serving::ModelInfo& m : service_.ListModels()) *response->add_models() = wire::ToProto(m);
  response->set_ready(service_.Ready());
  // Each model's state and memory when the service hosts models (the gateway's admin list).
  if (const auto* models = dynamic_cast<const serving::ModelManager*>(&service_)) {
    for (const serving::ModelStatus& s : models->ModelStatuses())
      *response->add_statuses() = wire::ToProto(s);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGrpcService::Load(grpc::CallbackServerContext* context,
                                                  const v1::LoadRequest* request, v1::LoadReport* response) {
  response->set_in_flight(in_flight());
  response->set_version(LLMUX_VERSION_STRING);
  // Per-model load and prefix-cache hashes when the service hosts models (load_report.h).
  if (const auto* source = dynamic_cast<const serving::ModelLoadSource*>(&service_)) {
    FillModelLoads(*source, *request, *response);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGrpcService::Drain(grpc::CallbackServerContext* context,
                                                   const v1::DrainRequest*, v1::DrainReply* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!on_drain_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this worker cannot be drained"));
    return reactor;
  }
  response->set_in_flight(in_flight());
  on_drain_();  // starts the drain on a thread of its own; the reply goes out first
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGrpcService::GetVocab(grpc::CallbackServerContext* context,
                                                      const v1::GetVocabRequest* request,
                                                      v1::GetVocabResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const auto* source = dynamic_cast<const serving::ModelLoadSource*>(&service_);
  if (!source) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this worker hosts no models"));
    return reactor;
  }
  Result<std::string> bytes = source->VocabGguf(request->model());
  if (!bytes.ok()) {
    const grpc::StatusCode code = bytes.status().code() == StatusCode::kNotFound ? grpc::StatusCode::NOT_FOUND
                                                                                 : grpc::StatusCode::UNAVAILABLE;
    reactor->Finish(grpc::Status(code, bytes.status().message()));
    return reactor;
  }
  response->set_gguf(std::move(*bytes));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGrpcService::Embed(grpc::CallbackServerContext* context,
                                                   const v1::EmbedRequest* request,
                                                   v1::EmbedResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Result<serving::EmbedRequest> embed = wire::FromProto(*request);
  if (!embed.ok()) {
    *response->mutable_error() = wire::ToProto(embed.status());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  ++*in_flight_;
  // `done` runs once, here or on an engine thread; the reactor and the response live until
  // Finish, and in_flight_ is shared with it (the service may outlive a call, not the reverse).
  service_.SubmitEmbed(std::move(embed).value(), [reactor, response, in_flight = in_flight_](
                                                     Result<serving::EmbedResult> result) {
    if (result.ok()) {
      *response = wire::ToProto(*result);
    } else {
      *response->mutable_error() = wire::ToProto(result.status());
    }
    --*in_flight;
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace llmux::worker
