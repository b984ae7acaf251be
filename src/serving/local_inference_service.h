// InferenceService over models hosted in this process: loads them in the background
// (Ready() turns true when all are loaded), renders chat templates, submits to each
// model's engine and turns engine tokens into deltas (stop strings, reasoning and tool
// calls, logprobs), recording metrics on the way.
#pragma once

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "serving/inference_service.h"
#include "serving/model_host.h"
#include "serving/serving_metrics.h"

namespace llmux::serving {

class LocalInferenceService : public InferenceService {
 public:
  // Starts loading the models on a background thread and returns at once.
  LocalInferenceService(std::vector<ModelSpec> specs, ModelHostOptions options);
  ~LocalInferenceService() override;

  // Blocks until every model is loaded; the first load error otherwise.
  Status WaitLoaded();
  // Refuses new requests, cancels queued ones and waits up to timeout_ms for running ones.
  void Drain(int timeout_ms);

  std::vector<ModelInfo> ListModels() const override;
  bool Ready() const override;
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                              std::shared_ptr<Sink> sink) override;
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                  std::shared_ptr<Sink> sink) override;

  ServingMetrics& metrics() { return metrics_; }

 private:
  void LoadAll();
  Result<ModelHost*> FindModel(const std::string& name) const;

  std::vector<ModelSpec> specs_;
  ModelHostOptions options_;
  ServingMetrics metrics_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ModelHost>> hosts_;
  bool loaded_ = false;
  bool draining_ = false;
  Status load_status_;
  std::condition_variable loaded_cv_;
  std::thread loader_;
};

}  // namespace llmux::serving
