// InferenceService over workers on other machines (the gateway role): each request goes to one
// worker (WorkerRouter: least outstanding requests) over llmux.worker.v1. A worker that fails
// before the request's first delta reached the caller is marked down and the request goes to
// another, invisibly; after that a failure ends the request with an error. Workers come from a
// static list and from discovery (AddWorker/RemoveWorker at any time); a background thread asks
// each for its models every refresh_interval, which also brings a failed worker back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serving/inference_service.h"
#include "serving/remote/model_routes.h"
#include "serving/remote/worker_router.h"

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

struct RemoteInferenceOptions {
  std::vector<std::string> workers;  // host:port, the static list
  std::chrono::milliseconds refresh_interval{1000};
  // How long a worker may take to accept or refuse a request before another is tried.
  std::chrono::milliseconds accept_timeout{10000};
  int max_attempts = 3;  // workers tried per request before it fails
  // TLS to the workers: their CA (empty: plaintext), and the gateway's own certificate and key
  // for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

class RemoteInferenceService : public InferenceService {
 public:
  explicit RemoteInferenceService(RemoteInferenceOptions options);
  ~RemoteInferenceService() override;

  // Checks the TLS files; the workers are dialled lazily. Call once before serving.
  Status Start();

  // Rollouts: resolve each request's model through `routes` (null: no routing). Set it before
  // serving; the routes themselves may change at any time.
  void SetModelRoutes(std::shared_ptr<const ModelRoutes> routes) { routes_ = std::move(routes); }

  void AddWorker(const std::string& address, bool standby = false);
  void RemoveWorker(const std::string& address);

  // The union of the ready models of the live workers.
  std::vector<ModelInfo> ListModels() const override;
  // Some worker is live and every model a live worker lists has a ready one.
  bool Ready() const override;
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest request,
                                              std::shared_ptr<Sink> sink) override;
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest request,
                                                  std::shared_ptr<Sink> sink) override;

  // llmux_gateway_workers{worker,state}, llmux_gateway_worker_requests_total{worker},
  // llmux_gateway_worker_failures_total{worker} in Prometheus text.
  std::string MetricsText() const;

  struct Worker;  // one worker's channel, state and counters (internal)
  struct Request;  // one request's attempts (internal)
  // Internal, for the calls: every call in flight is known, so that destruction cancels them
  // and waits until none touches the service any more.
  void CallStarted(grpc::ClientContext* context);
  void CallEnded(grpc::ClientContext* context);

 private:
  friend struct Request;
  std::shared_ptr<Request> NewRequest(std::string model, worker::v1::GenerateRequest proto,
                                      std::shared_ptr<Sink> sink);
  Result<std::shared_ptr<RequestHandle>> Submit(std::shared_ptr<Request> request);
  // The worker for the next attempt of `request`, counted as outstanding; null if none.
  std::shared_ptr<Worker> PickWorker(Request& request);
  void MarkDown(const std::shared_ptr<Worker>& worker, const std::string& why);
  void RefreshLoop();
  void Refresh(const std::shared_ptr<Worker>& worker);
  void SetStateGauges(Worker& worker);

  const RemoteInferenceOptions options_;
  std::shared_ptr<const ModelRoutes> routes_;
  std::shared_ptr<void> credentials_;  // grpc::ChannelCredentials

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Worker>> workers_;
  std::set<grpc::ClientContext*> calls_;
  WorkerRouter router_;
  bool stopping_ = false;
  bool refresh_now_ = false;
  std::thread refresher_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* state_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* failures_;
};

}  // namespace llmux::serving
