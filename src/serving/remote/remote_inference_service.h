// InferenceService over workers on other machines (the gateway role): each request goes to one
// worker (WorkerRouter: least outstanding requests) over llmux.worker.v1. A worker that fails
// is marked down and the request goes to another, invisibly: before the first delta reached
// the caller it starts over there; after, the other worker resumes the stream from the tokens
// already sent (replayed, not sent again), so the caller's stream just goes on. Workers come from a
// static list and from discovery (AddWorker/RemoveWorker at any time); a background thread asks
// each for its models every refresh_interval, which also brings a failed worker back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/caller_shares.h"
#include "base/fair_pool.h"
#include "serving/inference_service.h"
#include "serving/remote/cache_aware_policy.h"
#include "serving/remote/circuit_breaker.h"
#include "serving/remote/model_routes.h"
#include "serving/remote/worker_router.h"
#include "serving/worker_admin.h"

namespace grpc {
class ClientContext;
}

namespace llmux::worker::v1 {
class GenerateRequest;
}

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
}  // namespace prometheus

namespace llmux::serving {

class PromptBuilder;
class VocabCache;
class ModelLoadGauges;

struct RemoteInferenceOptions {
  std::vector<std::string> workers;  // host:port, the static list
  std::chrono::milliseconds refresh_interval{1000};
  // How long a worker may take to accept or refuse a request before another is tried.
  std::chrono::milliseconds accept_timeout{10000};
  // Each worker connection is pinged this often, and one whose pings go unanswered for as long
  // is closed: a worker that hangs (stopped, or its machine gone without a word) then fails
  // its streams in flight, which move to another worker, instead of holding them forever.
  std::chrono::milliseconds keepalive{10000};
  int max_attempts = 3;  // workers tried per request before it fails
  // TLS to the workers: their CA (empty: plaintext), and the gateway's own certificate and key
  // for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Routing (docs/deployment.md, "Routing"): the policy of models without one of their own.
  // Cache-aware: a request goes to the worker whose prefix cache holds the longest prefix of
  // its prompt's blocks, unless that worker is over cache_aware.max_load.
  RoutePolicy route_policy = RoutePolicy::kLeastOutstanding;
  std::map<std::string, RoutePolicy> model_policies;
  CacheAwareOptions cache_aware;
  // Outstanding requests from this gateway at which a worker counts as saturated (standbys
  // then take the overflow); 0: the capacity the worker registered (its max running), if any.
  int worker_capacity = 0;
  CircuitBreakerOptions breaker;
  bool health_checks = true;  // grpc.health.v1 Check on every refresh
  // Pause before trying another worker for a request none has started answering: doubles
  // from retry_backoff up to max_retry_backoff, with jitter.
  std::chrono::milliseconds retry_backoff{20};
  std::chrono::milliseconds max_retry_backoff{200};
  // Threads on which SubmitChat/SubmitComplete wait for a worker to accept, and how many of
  // them one caller (the request's caller_share) may hold at once: a caller whose requests go
  // to a worker that does not answer holds its share for up to accept_timeout, not all.
  int submit_threads = 16;
  int submit_threads_per_caller = 4;
  // Embed calls (SubmitEmbed) to workers in flight from this gateway, and how many of them one
  // caller may have; a call gives up on a worker after embed_timeout (and tries another).
  int max_embed_calls = 256;
  int embed_calls_per_caller = 8;
  std::chrono::milliseconds embed_timeout{120000};

  RoutePolicy PolicyFor(const std::string& model) const;
  bool AnyCacheAware() const;
};

class RemoteInferenceService : public InferenceService, public WorkerAdmin {
 public:
  explicit RemoteInferenceService(RemoteInferenceOptions options);
  ~RemoteInferenceService() override;

  // Checks the TLS files; the workers are dialled lazily. Call once before serving.
  Status Start();

  // Rollouts: resolve each request's model through `routes` (null: no routing). Set it before
  // serving; the routes themselves may change at any time.
  void SetModelRoutes(std::shared_ptr<const ModelRoutes> routes) { routes_ = std::move(routes); }

  // capacity: the worker's registered max running (0: unknown).
  void AddWorker(const std::string& address, bool standby = false, int capacity = 0);
  void RemoveWorker(const std::string& address);

  // The union of the ready models of the live workers.
  std::vector<ModelInfo> ListModels() const override;
  // Some worker is live and every model a live worker lists has a ready one.
  bool Ready() const override;
  // From the vocabulary fetched from a worker that serves the model (Unavailable before).
  Result<std::vector<int32_t>> Tokenize(const std::string& model, std::string_view text,
                                        bool add_special) const override;
  Result<std::string> Detokenize(const std::string& model,
                                 std::span<const int32_t> ids) const override;
  Result<int> CountChatTokens(const ChatRequest& request) const override;
  // Chat/Complete wait until a worker accepts (or every try failed); SubmitChat/SubmitComplete
  // wait on the submit threads instead (see RemoteInferenceOptions::submit_threads).
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                              std::shared_ptr<Sink> sink) override;
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                  std::shared_ptr<Sink> sink) override;
  void SubmitChat(ChatRequest request, std::shared_ptr<Sink> sink, Submitted done) override;
  void SubmitComplete(CompletionRequest request, std::shared_ptr<Sink> sink, Submitted done) override;
  // On a worker that serves the model (routed as generations are); one that fails, or refuses
  // because it is full, is replaced by another, up to max_attempts. Never blocks: `done` runs on
  // a gRPC thread, or here when the call is refused before it is sent.
  void SubmitEmbed(EmbedRequest request, Embedded done) override;

  std::vector<WorkerStatus> Workers() const override;
  Result<int> DrainWorker(const std::string& address) override;
  std::vector<WorkerModelStatus> WorkerModels() const override;

  // llmux_gateway_workers{worker,state}, llmux_gateway_worker_requests_total{worker},
  // llmux_gateway_worker_failures_total{worker} in Prometheus text.
  std::string MetricsText() const;

  struct Worker;  // one worker's channel, state and counters (internal)
  struct Request;  // one request's attempts (internal)
  class WorkerSession;  // the Session call to one worker (internal)
  class EmbedCall;      // one SubmitEmbed across its attempts (internal)
  // The worker's session, opened if it has none that works (internal, for the attempts).
  std::shared_ptr<WorkerSession> SessionFor(const std::shared_ptr<Worker>& worker);
  // Internal, for the calls: every call in flight is known, so that destruction cancels them
  // and waits until none touches the service any more.
  void CallStarted(grpc::ClientContext* context);
  void CallEnded(grpc::ClientContext* context);
  // Keeps an object that holds a channel (a finished call, a worker) until the refresh thread
  // or the destructor drops it, off gRPC's callback threads.
  void Retire(std::shared_ptr<void> object);

 private:
  friend struct Request;
  std::shared_ptr<Request> NewRequest(std::string model, worker::v1::GenerateRequest proto,
                                      std::shared_ptr<Sink> sink);
  Result<std::shared_ptr<RequestHandle>> Submit(std::shared_ptr<Request> request);
  // The worker for the next attempt of `request`, counted as outstanding; null if none.
  std::shared_ptr<Worker> PickWorker(Request& request);
  // The same for any call on `model` that has not been to `tried` (blocks: its prompt's block
  // hashes for cache-aware routing, or none).
  std::shared_ptr<Worker> PickWorkerFor(const std::string& model,
                                        const std::set<std::string>& tried,
                                        const std::vector<uint64_t>& blocks);
  // Why no worker could take a call on `model` (NotFound when none lists it).
  Status NoWorkerFor(const std::string& model) const;
  void MarkDown(const std::shared_ptr<Worker>& worker, const std::string& why);
  // A call's outcome for the worker's circuit breaker: failure, success, or neither.
  enum class Outcome { kFailure, kSuccess, kNeutral };
  void Record(const std::shared_ptr<Worker>& worker, Outcome outcome);
  void RefreshLoop();
  void Refresh(const std::shared_ptr<Worker>& worker);
  void SetStateGauges(Worker& worker);
  // Cache-aware routing and per-model metrics (the section at the end of the .cc).
  void RefreshLoad(const std::shared_ptr<Worker>& worker);
  void UpdateModelGauges();
  std::vector<uint64_t> PromptBlocks(const std::string& model, const ChatRequest* chat,
                                     const CompletionRequest* completion) const;
  int PickCacheAware(const std::vector<WorkerView>& views,
                     const std::vector<std::shared_ptr<Worker>>& order, const std::string& model,
                     const std::vector<uint64_t>& blocks, const std::set<std::string>& tried);

  const RemoteInferenceOptions options_;
  std::shared_ptr<const ModelRoutes> routes_;
  std::shared_ptr<void> credentials_;  // grpc::ChannelCredentials

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Worker>> workers_;
  std::set<grpc::ClientContext*> calls_;
  std::vector<std::shared_ptr<void>> retired_;  // see Retire
  WorkerRouter router_;
  CacheAwarePolicy cache_policy_;
  std::unique_ptr<VocabCache> vocab_;
  // The prompt builder of `model` from vocab_, or Unavailable.
  Result<std::shared_ptr<const PromptBuilder>> Vocabulary(const std::string& model) const;
  std::unique_ptr<ModelLoadGauges> model_gauges_;
  bool stopping_ = false;
  bool refresh_now_ = false;
  std::thread refresher_;

  CallerShares embed_shares_;        // embed calls in flight, per caller
  std::atomic<int> embed_calls_{0};  // ... in all

  // Emptied first by the destructor (queued submits then fail at once), while the rest stands.
  std::unique_ptr<FairPool> submit_pool_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* state_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* failures_;
  prometheus::Family<prometheus::Gauge>* breaker_;
  prometheus::Counter* migrations_;
};

}  // namespace llmux::serving
