#include "worker/worker_service.h"

#include <mutex>
#include <optional>
#include <vector>

#include "net/grpc/response_stream.h"
#include "serving/remote/worker_wire.h"
#include "worker/load_report.h"

namespace llmux::worker {

namespace {

namespace wire = serving::wire;
using Event = v1::GenerateEvent;
using Stream = rpc::ResponseStream<Event>;

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
  EventSink(std::shared_ptr<Stream> stream, std::shared_ptr<std::atomic<int>> in_flight,
            std::shared_ptr<FlushTimer> timer, FlushTimer::Clock::duration window)
      : stream_(std::move(stream)),
        in_flight_(std::move(in_flight)),
        timer_(std::move(timer)),
        window_(window) {}

  void Accept() {
    ++*in_flight_;
    std::lock_guard lock(mu_);
    Event accepted;
    accepted.mutable_accepted();
    stream_->Push(std::move(accepted));
    for (Event& e : held_) Send(std::move(e));
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
    stream_->Push(std::move(e));
    if (last) {
      stream_->Close(grpc::Status::OK);
      --*in_flight_;
    }
  }

  std::shared_ptr<Stream> stream_;
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

void Refuse(Stream& stream, const Status& status) {
  Event e;
  *e.mutable_refused() = wire::ToProto(status);
  stream.Push(std::move(e));
  stream.Close(grpc::Status::OK);
}

}  // namespace

grpc::ServerWriteReactor<Event>* WorkerGrpcService::Generate(grpc::CallbackServerContext*,
                                                            const v1::GenerateRequest* request) {
  auto* reactor = new rpc::StreamReactor<Event>();
  const std::shared_ptr<Stream>& stream = reactor->stream();
  auto sink = std::make_shared<EventSink>(stream, in_flight_, flush_timer_, window_);
  Result<std::shared_ptr<serving::RequestHandle>> handle = InvalidArgumentError("no request");
  if (request->has_chat()) {
    Result<serving::ChatRequest> chat = wire::FromProto(request->chat());
    handle = chat.ok() ? service_.Chat(std::move(chat).value(), sink) : chat.status();
  } else if (request->has_completion()) {
    Result<serving::CompletionRequest> completion = wire::FromProto(request->completion());
    handle = completion.ok() ? service_.Complete(std::move(completion).value(), sink)
                             : completion.status();
  }
  if (!handle.ok()) {
    Refuse(*stream, handle.status());
    return reactor;
  }
  sink->Accept();
  stream->SetCancel([h = std::move(handle).value()] { h->Cancel(); });
  return reactor;
}

grpc::ServerUnaryReactor* WorkerGrpcService::ListModels(grpc::CallbackServerContext* context,
                                                        const v1::ListModelsRequest*,
                                                        v1::ListModelsResponse* response) {
  for (const serving::ModelInfo& m : service_.ListModels()) *response->add_models() = wire::ToProto(m);
  response->set_ready(service_.Ready());
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

}  // namespace llmux::worker
