#include "gateway/grpc/inference_grpc_service.h"

#include <fmt/format.h>

#include <ctime>
#include <random>
#include <string>

#include "gateway/grpc/grpc_access.h"
#include "gateway/grpc/proto_conversion.h"
#include "gateway/grpc/status_mapping.h"
#include "net/grpc/response_stream.h"

namespace llmux::gateway {

using rpc::ResponseStream;
using rpc::StreamReactor;
namespace {

// "chatcmpl-" + 24 random hex digits, like OpenAI's ids.
std::string NewRequestId(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

// Turns the engine's callbacks into response messages on one call's stream. (CallAccess::Track
// wraps it: the call's tokens are charged and the call recorded when it ends.)
template <typename Response>
class StreamSink final : public serving::Sink {
 public:
  StreamSink(std::shared_ptr<ResponseStream<Response>> stream, std::string id, std::string model)
      : stream_(std::move(stream)),
        id_(std::move(id)),
        model_(std::move(model)),
        created_(static_cast<int64_t>(std::time(nullptr))) {}

  void OnDelta(const serving::Delta& delta) override {
    if (delta.empty()) return;
    Response message = NewMessage();
    FillDelta(delta, message.mutable_delta());
    stream_->Push(std::move(message));
  }

  void OnFinish(const serving::Finish& finish) override {
    switch (finish.reason) {
      case serving::FinishReason::kStop:
      case serving::FinishReason::kLength:
      case serving::FinishReason::kToolCalls: {
        Response message = NewMessage();
        FillFinish(finish, message.mutable_finish());
        stream_->Push(std::move(message));
        stream_->Close(grpc::Status::OK);
        return;
      }
      case serving::FinishReason::kCancelled:
        stream_->Close(grpc::Status(grpc::StatusCode::CANCELLED, "generation was cancelled"));
        return;
      case serving::FinishReason::kError:
        stream_->Close(finish.error.ok()
                           ? grpc::Status(grpc::StatusCode::INTERNAL, "generation failed")
                           : ToGrpcStatus(finish.error));
        return;
    }
  }

 private:
  Response NewMessage() const {
    Response message;
    message.set_id(id_);
    message.set_model(model_);
    message.set_created(created_);
    return message;
  }

  std::shared_ptr<ResponseStream<Response>> stream_;
  std::string id_;
  std::string model_;
  int64_t created_;
};

// Converts, submits with `submit(request, sink, done)` (SubmitChat/SubmitComplete: it may
// answer after this returns, from another thread) and returns the call's reactor; every error
// before generation starts finishes the call with its status.
template <typename Response, typename Converted, typename Submit>
grpc::ServerWriteReactor<Response>* StartStream(AccessGate* gate, grpc::CallbackServerContext* context,
                                                std::string_view method, Result<Converted> converted,
                                                const char* id_prefix, Submit submit) {
  auto* reactor = new StreamReactor<Response>();
  const auto& stream = reactor->stream();
  auto access = AdmitGrpcCall(gate, context, method);
  Status allowed = access.ok() ? Status::Ok() : access.status();
  if (allowed.ok()) allowed = converted.status();
  if (allowed.ok() && *access) allowed = (*access)->AllowModel(converted->model);
  if (!allowed.ok()) {
    if (access.ok() && *access) (*access)->Refuse(allowed, converted.ok() ? converted->model : "");
    stream->Close(ToGrpcStatus(allowed));
    return reactor;
  }
  std::shared_ptr<serving::Sink> sink =
      std::make_shared<StreamSink<Response>>(stream, NewRequestId(id_prefix), converted->model);
  std::shared_ptr<TrackedSink> tracked;
  if (*access) {
    converted->options.caller_share = (*access)->share();
    tracked = (*access)->Track(std::move(sink), converted->model);
    sink = tracked;
  }
  // The stream outlives the reactor as needed: a cancel that comes while submitting is
  // passed on once SetCancel gives the handle.
  submit(std::move(converted).value(), std::move(sink),
         [stream, tracked](Result<std::shared_ptr<serving::RequestHandle>> handle) {
           if (!handle.ok()) {
             if (tracked) tracked->Refuse(handle.status());
             stream->Close(ToGrpcStatus(handle.status()));
             return;
           }
           stream->SetCancel([h = std::move(handle).value()] { h->Cancel(); });
         });
  return reactor;
}

}  // namespace

InferenceGrpcService::InferenceGrpcService(serving::InferenceService& service, AccessGate* gate)
    : service_(service), gate_(gate) {}

InferenceGrpcService::~InferenceGrpcService() = default;

grpc::ServerWriteReactor<v1::ChatResponse>* InferenceGrpcService::Chat(
    grpc::CallbackServerContext* context, const v1::ChatRequest* request) {
  return StartStream<v1::ChatResponse>(
      gate_, context, "/llmux.v1.Inference/Chat", ChatRequestFromProto(*request), "chatcmpl-",
      [this](serving::ChatRequest r, std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
        service_.SubmitChat(std::move(r), std::move(sink), std::move(done));
      });
}

grpc::ServerWriteReactor<v1::CompleteResponse>* InferenceGrpcService::Complete(
    grpc::CallbackServerContext* context, const v1::CompleteRequest* request) {
  return StartStream<v1::CompleteResponse>(
      gate_, context, "/llmux.v1.Inference/Complete", CompletionRequestFromProto(*request), "cmpl-",
      [this](serving::CompletionRequest r, std::shared_ptr<serving::Sink> sink,
             serving::InferenceService::Submitted done) {
        service_.SubmitComplete(std::move(r), std::move(sink), std::move(done));
      });
}

grpc::ServerUnaryReactor* InferenceGrpcService::ListModels(grpc::CallbackServerContext* context,
                                                           const v1::ListModelsRequest* /*request*/,
                                                           v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto access = AdmitGrpcCall(gate_, context, "/llmux.v1.Inference/ListModels");
  if (!access.ok()) {
    reactor->Finish(ToGrpcStatus(access.status()));
    return reactor;
  }
  for (const serving::ModelInfo& info : service_.ListModels()) {
    // Only the models this caller may use.
    if (*access && !(*access)->principal().MayUseModel(info.id)) continue;
    FillModel(info, response->add_models());
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace llmux::gateway
