// InferenceService over models hosted in this process: loads them in the background
// (Ready() turns true when all are loaded), renders chat templates, submits to each
// model's engine and turns engine tokens into deltas (stop strings, reasoning and tool
// calls, logprobs), recording metrics on the way. Models can be loaded and unloaded while
// it serves (ModelManager): a request holds its model's host (shared_ptr) from lookup to
// submission, and an unloaded host is destroyed once no request refers to it any more.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serving/grammar_cache.h"
#include "serving/inference_service.h"
#include "serving/model_host.h"
#include "serving/model_load.h"
#include "serving/model_manager.h"
#include "serving/serving_metrics.h"

namespace llmux::serving {

class LocalInferenceService : public InferenceService, public ModelManager, public ModelLoadSource {
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
  Result<std::vector<int32_t>> Tokenize(const std::string& model, std::string_view text,
                                        bool add_special) const override;
  Result<std::string> Detokenize(const std::string& model,
                                 std::span<const int32_t> ids) const override;
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                              std::shared_ptr<Sink> sink) override;
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                  std::shared_ptr<Sink> sink) override;

  // ModelManager. LoadModel uses the options the service was made with; it is refused
  // (kUnavailable) until the models given at start are loaded.
  Status LoadModel(ModelSpec spec) override;
  Status UnloadModel(const std::string& name) override;

  // ModelLoadSource (local_inference_load.cc).
  std::vector<ModelLoad> ModelLoads(const std::map<std::string, PrefixCursor>& cursors,
                                    size_t max_hashes) const override;
  Result<std::string> VocabGguf(const std::string& model) const override;

  ServingMetrics& metrics() { return metrics_; }

 private:
  void LoadAll();
  Result<std::shared_ptr<ModelHost>> FindModel(const std::string& name) const;
  bool Serves(const ModelHost* host) const;
  // Wires a freshly loaded host's engine to the metrics.
  void ObserveEngine(ModelHost& host);
  // What a refused Submit means: a host unloaded between lookup and submission is gone.
  Status SubmitError(const ModelHost& host, Status status, const char* field) const;

  std::vector<ModelSpec> specs_;
  ModelHostOptions options_;
  ServingMetrics metrics_;
  GrammarCache grammars_;  // compiled response_format schemas and grammars

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<ModelHost>> hosts_;
  std::set<std::string> loading_;  // names LoadModel is loading
  bool loaded_ = false;
  bool draining_ = false;
  Status load_status_;
  std::condition_variable loaded_cv_;
  std::thread loader_;
};

}  // namespace llmux::serving
