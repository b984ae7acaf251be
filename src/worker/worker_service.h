// llmux.worker.v1.Worker over any InferenceService (on a worker: the local one). A Session
// carries a gateway's generations: per id `accepted` or `refused` first, then the sink's deltas
// and finish, the events of all generations batched into as few messages as the writes allow;
// a cancel request, or the call breaking, cancels generations.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "llmux/worker/v1/worker.grpc.pb.h"
#include "serving/inference_service.h"
#include "worker/flush_timer.h"

namespace llmux::worker {

class WorkerGrpcService final : public llmux::worker::v1::Worker::CallbackService {
 public:
  // on_drain: what a Drain call starts (the worker's own drain, as on SIGTERM); empty: Drain
  // is answered UNIMPLEMENTED. stream_window: a generation's deltas within this time of the
  // previous message are merged into one (see EventSink in the .cc); zero sends each alone.
  WorkerGrpcService(serving::InferenceService& service, std::function<void()> on_drain,
                    std::chrono::microseconds stream_window = std::chrono::microseconds(0))
      : service_(service), on_drain_(std::move(on_drain)), window_(stream_window) {}

  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionEvents>* Session(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* Load(grpc::CallbackServerContext* context, const v1::LoadRequest* request,
                                 v1::LoadReport* response) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* context,
                                  const v1::DrainRequest* request, v1::DrainReply* response) override;
  grpc::ServerUnaryReactor* GetVocab(grpc::CallbackServerContext* context, const v1::GetVocabRequest* request,
                                     v1::GetVocabResponse* response) override;
  // Counted in in_flight() while it runs, so that a drain waits for it as for a generation.
  grpc::ServerUnaryReactor* Embed(grpc::CallbackServerContext* context,
                                  const v1::EmbedRequest* request,
                                  v1::EmbedResponse* response) override;

  // Generations accepted and not yet finished.
  int in_flight() const { return in_flight_->load(); }

 private:
  serving::InferenceService& service_;
  std::function<void()> on_drain_;
  // Shared with the sinks, which may outlive a call (the engine holds them until it finishes).
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
  const std::chrono::microseconds window_;
  std::shared_ptr<FlushTimer> flush_timer_ = std::make_shared<FlushTimer>();  // shared likewise
};

}  // namespace llmux::worker
