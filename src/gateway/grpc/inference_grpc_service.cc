#include "gateway/grpc/inference_grpc_service.h"

#include <fmt/format.h>

#include <ctime>
#include <random>
#include <string>

#include "gateway/grpc/proto_conversion.h"
#include "gateway/grpc/response_stream.h"
#include "gateway/grpc/status_mapping.h"

namespace llmux::gateway {
namespace {

// "chatcmpl-" + 24 random hex digits, like OpenAI's ids.
std::string NewRequestId(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

// Turns the engine's callbacks into response messages on one call's stream.
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

// Converts, submits with `submit(request, sink)` and returns the call's reactor; every
// error before generation starts finishes the call with its status.
template <typename Response, typename Converted, typename Submit>
grpc::ServerWriteReactor<Response>* StartStream(Result<Converted> converted, const char* id_prefix,
                                                Submit submit) {
  auto* reactor = new StreamReactor<Response>();
  const auto& stream = reactor->stream();
  if (!converted.ok()) {
    stream->Close(ToGrpcStatus(converted.status()));
    return reactor;
  }
  auto sink =
      std::make_shared<StreamSink<Response>>(stream, NewRequestId(id_prefix), converted->model);
  Result<std::shared_ptr<serving::RequestHandle>> handle =
      submit(std::move(converted).value(), std::move(sink));
  if (!handle.ok()) {
    stream->Close(ToGrpcStatus(handle.status()));
    return reactor;
  }
  stream->SetHandle(std::move(handle).value());
  return reactor;
}

}  // namespace

grpc::ServerWriteReactor<v1::ChatResponse>* InferenceGrpcService::Chat(
    grpc::CallbackServerContext* /*context*/, const v1::ChatRequest* request) {
  return StartStream<v1::ChatResponse>(
      ChatRequestFromProto(*request), "chatcmpl-",
      [this](serving::ChatRequest r, std::shared_ptr<serving::Sink> sink) {
        return service_.Chat(std::move(r), std::move(sink));
      });
}

grpc::ServerWriteReactor<v1::CompleteResponse>* InferenceGrpcService::Complete(
    grpc::CallbackServerContext* /*context*/, const v1::CompleteRequest* request) {
  return StartStream<v1::CompleteResponse>(
      CompletionRequestFromProto(*request), "cmpl-",
      [this](serving::CompletionRequest r, std::shared_ptr<serving::Sink> sink) {
        return service_.Complete(std::move(r), std::move(sink));
      });
}

grpc::ServerUnaryReactor* InferenceGrpcService::ListModels(grpc::CallbackServerContext* context,
                                                           const v1::ListModelsRequest* /*request*/,
                                                           v1::ListModelsResponse* response) {
  for (const serving::ModelInfo& info : service_.ListModels())
    FillModel(info, response->add_models());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace llmux::gateway
