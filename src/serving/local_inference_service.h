// InferenceService over models hosted in this process: loads them in the background
// (Ready() turns true when all are loaded), renders chat templates, submits to each
// model's engine and turns engine tokens into deltas (stop strings, reasoning and tool
// calls, logprobs), recording metrics on the way. Models can be loaded and unloaded while
// it serves (ModelManager): a request holds its model's host (shared_ptr) from lookup to
// submission, and an unloaded host is destroyed once no request refers to it any more.
// Models loaded at run time follow ModelLifecycle: a background thread unloads those whose
// keep-alive ran out, and a load beyond the loaded-model limit evicts the least recently used
// idle one. A request for a model that is not loaded but can be (one unloaded for idleness or
// evicted, or one the load settings give a file for: a registered model) loads it on demand
// (local_inference_on_demand.cc): the request waits, within a bounded time and its caller's share
// of a bounded queue, and goes on once the model is loaded. Each load reads the model's load
// settings (model_load_settings.h), so a change of them applies at the next load.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
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
#include "serving/model_load_settings.h"
#include "serving/model_manager.h"
#include "serving/serving_metrics.h"

namespace llmux::serving {

class LocalInferenceService : public InferenceService, public ModelManager, public ModelLoadSource {
 public:
  // Starts loading the models on a background thread and returns at once.
  LocalInferenceService(std::vector<ModelSpec> specs, ModelHostOptions options);
  // Loads nothing until Start(): for a role whose load settings come from a store it opens later.
  struct Deferred {};
  LocalInferenceService(std::vector<ModelSpec> specs, ModelHostOptions options, Deferred);
  // Starts loading the models given at construction (once; later calls do nothing), each with
  // its settings from `settings` (null: the options alone), which every later load reads too.
  void Start(ModelLoadSettingsLookup settings);
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
  Result<int> CountChatTokens(const ChatRequest& request) const override;
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                              std::shared_ptr<Sink> sink) override;
  // local_inference_embed.cc
  void SubmitEmbed(EmbedRequest request, Embedded done) override;
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                  std::shared_ptr<Sink> sink) override;
  // Chat/Complete, embeddings, tokenize, detokenize and counting, after loading the model on
  // demand when it is not loaded but loadable (local_inference_on_demand.cc, WhenLoaded).
  void SubmitChat(ChatRequest request, std::shared_ptr<Sink> sink, Submitted done) override;
  void SubmitComplete(CompletionRequest request, std::shared_ptr<Sink> sink,
                      Submitted done) override;
  void SubmitTokenize(std::string model, std::string text, bool add_special,
                      std::string caller_share, Tokenized done) override;
  void SubmitDetokenize(std::string model, std::vector<int32_t> ids, std::string caller_share,
                        Detokenized done) override;
  void SubmitCountChatTokens(ChatRequest request, Counted done) override;

  // ModelManager. LoadModel uses the options the service was made with; it is refused
  // (kUnavailable) until the models given at start are loaded.
  Status LoadModel(ModelSpec spec) override;
  Status UnloadModel(const std::string& name) override;
  Status ReplaceModel(ModelSpec spec) override;
  std::vector<ModelStatus> ModelStatuses() const override;
  Status SetKeepAlive(const std::string& name, double seconds) override;

  // ModelLoadSource (local_inference_load.cc).
  std::vector<ModelLoad> ModelLoads(const std::map<std::string, PrefixCursor>& cursors,
                                    size_t max_hashes) const override;
  Result<std::string> VocabGguf(const std::string& model) const override;

  ServingMetrics& metrics() { return metrics_; }

 private:
  void LoadAll();
  // The spec and options `spec`'s load uses: the load settings of its name applied.
  std::pair<ModelSpec, ModelHostOptions> PrepareLoad(ModelSpec spec) const;
  // Remembers what serves `name`, for loading it again on demand (the caller holds mu_).
  void RememberLocked(const ModelSpec& spec);

  // Embeddings of a model that is loaded, or not found (local_inference_embed.cc).
  void Embed(EmbedRequest request, Embedded done);

  // The one way in for every request that names a model: runs `go` once, with Ok at once when
  // the model is loaded (or cannot be loaded on demand: the request's own lookup answers) or once
  // its on-demand load ended well, and with why not otherwise (the load failed, the wait ran
  // out, the caller's share of the queue is taken). While `go` runs after an on-demand load, the
  // model is held busy (not unloaded for idleness).
  void WhenLoaded(const std::string& name, const std::string& caller,
                  std::function<void(Status)> go);
  // On-demand loads (local_inference_on_demand.cc). kNow: go on at once (the model is loaded,
  // or cannot be loaded on demand: the request's own lookup answers); kQueued: `resume` runs
  // once, from another thread, when the load ended (Ok: go on) or the wait timed out.
  enum class Await { kNow, kQueued };
  Result<Await> AwaitModel(const std::string& name, const std::string& caller,
                           std::function<void(Status)> resume);
  Status EnqueueLocked(const std::string& name, const std::string& caller,
                       std::function<void(Status)>& resume);
  void LoadOnDemand(ModelSpec spec);
  // LoadModel; `hold`: the loaded model counts one request in flight (RequestFinished ends it).
  Status LoadModel(ModelSpec spec, bool hold);
  // Takes the waiters whose wait ran out (the caller holds mu_); the earliest deadline left.
  std::vector<std::function<void()>> TakeTimedOutLocked(double now);
  std::optional<double> NextLoadDeadlineLocked() const;
  Result<std::shared_ptr<ModelHost>> FindModel(const std::string& name) const;
  // A model for one generation: its host and a token that holds it busy (not evicted, no
  // keep-alive countdown) until released, at the request's end or refusal.
  struct ModelUse {
    std::shared_ptr<ModelHost> host;
    std::shared_ptr<void> busy;
  };
  Result<ModelUse> UseModel(const std::string& name, std::optional<double> keep_alive_s);
  // Takes `name`'s host out of service (the caller holds mu_); null when not served.
  std::shared_ptr<ModelHost> TakeHostLocked(const std::string& name);
  // Stops and destroys a host taken out of service (without mu_), then forgets it.
  void DestroyHost(std::shared_ptr<ModelHost> host);
  // Unloads models whose keep-alive ran out, until the service is destroyed.
  void ReapIdle();
  bool Serves(const ModelHost* host) const;
  // Whether a hot update retired `host` while another copy now serves its name.
  bool ReplacedSince(const ModelHost& host) const;
  // One attempt at Chat/Complete on the copy the model's name finds. `retired` (may be null):
  // set, with nothing counted, when that copy was retired by a hot update before the request
  // reached its engine (the caller then tries the new copy).
  Result<std::shared_ptr<RequestHandle>> ChatOnce(const ChatRequest& request,
                                                  const std::shared_ptr<Sink>& sink, bool* retired);
  Result<std::shared_ptr<RequestHandle>> CompleteOnce(const CompletionRequest& request,
                                                      const std::shared_ptr<Sink>& sink,
                                                      bool* retired);
  // One attempt at Embed, as ChatOnce. An error returned here is the call's answer and `done`
  // was not called; otherwise `done` moved into the call, which answers through it.
  Status EmbedOnce(const EmbedRequest& request, Embedded& done, bool* retired);
  // Wires a freshly loaded host's engine to the metrics.
  void ObserveEngine(ModelHost& host);
  // What a refused Submit means: a host unloaded between lookup and submission is gone.
  Status SubmitError(const ModelHost& host, Status status, const char* field) const;

  std::vector<ModelSpec> specs_;
  ModelHostOptions options_;
  ModelLoadSettingsLookup settings_;  // set once by Start, before any load
  ServingMetrics metrics_;
  GrammarCache grammars_;  // compiled response_format schemas and grammars

  mutable std::mutex mu_;
  ModelLifecycle lifecycle_;  // before hosts_: requests ending as hosts die release into it
  std::vector<std::shared_ptr<ModelHost>> hosts_;
  bool loaded_ = false;
  bool draining_ = false;
  Status load_status_;
  std::condition_variable loaded_cv_;
  bool stopping_ = false;
  std::condition_variable reaper_cv_;
  std::thread loader_;
  std::thread reaper_;
  std::set<std::string> replacing_;  // names ReplaceModel is updating
  bool started_ = false;
  // What served each name last (given at start, loaded, updated), for on-demand loads; an
  // explicit unload forgets it. At most kMaxRemembered names.
  std::map<std::string, ModelSpec> remembered_;
  static constexpr size_t kMaxRemembered = 1024;
  // Requests waiting for their model's on-demand load, by model name.
  struct LoadWaiter {
    std::function<void(Status)> resume;
    double deadline = 0;
    std::unique_ptr<CallerShares::Slot> slot;
  };
  struct PendingLoad {
    std::vector<LoadWaiter> waiters;
    CallerShares shares{0};
  };
  std::map<std::string, PendingLoad> pending_;
  int on_demand_loads_ = 0;  // loader threads running; the destructor waits for them
  std::condition_variable on_demand_cv_;
  // Old copies of updated models, each unloaded by its thread once its requests are done.
  std::vector<std::thread> retiring_;
};

}  // namespace llmux::serving
