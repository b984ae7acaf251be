// Rollouts end to end in one process: a real etcd, three real workers (stories260K in a
// LocalInferenceService behind a WorkerServer, each with its DeployAgent), and gateways
// (RemoteInferenceService with ModelRoutes kept by a RouteFollower). Each worker records which
// served name every request reached it under, and for the new version whether etcd already had
// the new route at that moment.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "discovery/etcd_client.h"
#include "discovery/etcd_test_server.h"
#include "rollout/deploy_agent.h"
#include "rollout/deploy_coordinator.h"
#include "rollout/route_follower.h"
#include "serving/local_inference_service.h"
#include "serving/remote/remote_inference_service.h"
#include "tests/support/test_paths.h"
#include "worker/worker_server.h"

namespace llmux::rollout {
namespace {

using namespace std::chrono_literals;
using discovery::EtcdClient;
using discovery::EtcdTestServer;
using discovery::WaitFor;
using serving::CompletionRequest;

const char* kPrefix = "/llmux/";

class CollectSink : public serving::Sink {
 public:
  void OnDelta(const serving::Delta& d) override {
    std::lock_guard lock(mu);
    content += d.content;
  }
  void OnFinish(const serving::Finish& f) override { done.set_value(f); }
  std::mutex mu;
  std::string content;
  std::promise<serving::Finish> done;
};

// Passes requests on to the worker's service, noting the served name each prompt came under.
class RecordingService : public serving::InferenceService {
 public:
  RecordingService(serving::InferenceService& inner, EtcdClient& etcd) : inner_(inner), etcd_(etcd) {}
  std::vector<serving::ModelInfo> ListModels() const override { return inner_.ListModels(); }
  bool Ready() const override { return inner_.Ready(); }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest r,
                                                       std::shared_ptr<serving::Sink> s) override {
    return inner_.Chat(std::move(r), std::move(s));
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      CompletionRequest r, std::shared_ptr<serving::Sink> s) override {
    if (r.model.find('@') != std::string::npos) {
      // A new version: the route in etcd must already name it (the flip came first).
      auto route = etcd_.Get(RouteKey(kPrefix, "stories"));
      bool routed = false;
      if (route.ok() && !route->kvs.empty()) {
        auto decoded = DecodeRoute(route->kvs[0].value);
        routed = decoded.ok() && decoded->served == r.model;
      }
      if (!routed) ++new_before_flip;
    }
    {
      std::lock_guard lock(mu);
      served_by_prompt[r.prompt] = r.model;
    }
    return inner_.Complete(std::move(r), std::move(s));
  }
  std::mutex mu;
  std::map<std::string, std::string> served_by_prompt;
  std::atomic<int> new_before_flip{0};

 private:
  serving::InferenceService& inner_;
  EtcdClient& etcd_;
};

// A worker whose copy of every deployed file is corrupt: LoadModel gets `bad` instead.
class CorruptCopies : public serving::ModelManager {
 public:
  CorruptCopies(serving::ModelManager& inner, std::string bad) : inner_(inner), bad_(std::move(bad)) {}
  Status LoadModel(serving::ModelSpec spec) override {
    spec.path = bad_;
    return inner_.LoadModel(std::move(spec));
  }
  Status UnloadModel(const std::string& name) override { return inner_.UnloadModel(name); }

 private:
  serving::ModelManager& inner_;
  std::string bad_;
};

struct TestWorker {
  // `probe`: the client the recording reads routes with.
  explicit TestWorker(EtcdClient& probe) {
    serving::ModelHostOptions options;
    options.n_threads = 1;
    service = std::make_unique<serving::LocalInferenceService>(
        std::vector<serving::ModelSpec>{{"stories", testing::SharedPath("models/stories260K.gguf")}},
        options);
    EXPECT_TRUE(service->WaitLoaded().ok());
    recording = std::make_unique<RecordingService>(*service, probe);
    worker::WorkerServerOptions server_options;
    server_options.port = 0;
    server = std::make_unique<worker::WorkerServer>(*recording, server_options);
    EXPECT_TRUE(server->Start().ok());
    address = "127.0.0.1:" + std::to_string(server->port());
  }
  // The deploy agent, on the worker's own service unless `manager` is given.
  void StartAgent(const std::string& id, EtcdClient& etcd, serving::ModelManager* manager = nullptr) {
    agent = std::make_unique<DeployAgent>(etcd, manager ? *manager : *service,
                                          DeployAgentOptions{kPrefix, id});
    agent->Start();
  }
  bool Lists(const std::string& name) const {
    for (const auto& m : service->ListModels()) {
      if (m.id == name) return true;
    }
    return false;
  }
  std::unique_ptr<serving::LocalInferenceService> service;
  std::unique_ptr<RecordingService> recording;
  std::unique_ptr<worker::WorkerServer> server;
  std::unique_ptr<DeployAgent> agent;
  std::string address;
};

struct TestGateway {
  TestGateway(const std::vector<std::string>& workers, EtcdClient& etcd) {
    serving::RemoteInferenceOptions options;
    options.workers = workers;
    options.refresh_interval = 50ms;
    remote = std::make_unique<serving::RemoteInferenceService>(options);
    remote->SetModelRoutes(routes);
    EXPECT_TRUE(remote->Start().ok());
    follower = std::make_unique<RouteFollower>(etcd, routes, kPrefix);
    follower->Start();
    EXPECT_TRUE(WaitFor([&] { return remote->Ready() && follower->synced(); }, 10s));
  }
  // One short greedy completion of `model`; its status and the prompt it carried.
  Status Complete(const std::string& model, const std::string& prompt) {
    CompletionRequest r;
    r.model = model;
    r.prompt = prompt;
    r.options.sampling.temperature = 0.0f;
    r.options.max_tokens = 2;
    auto sink = std::make_shared<CollectSink>();
    auto handle = remote->Complete(std::move(r), sink);
    if (!handle.ok()) return handle.status();
    auto done = sink->done.get_future();
    if (done.wait_for(30s) != std::future_status::ready) return DeadlineExceededError("no finish");
    serving::Finish f = done.get();
    if (f.reason == serving::FinishReason::kError) return f.error;
    if (f.reason == serving::FinishReason::kCancelled) return UnavailableError("cancelled");
    return Status::Ok();
  }
  std::shared_ptr<serving::ModelRoutes> routes = std::make_shared<serving::ModelRoutes>();
  std::unique_ptr<serving::RemoteInferenceService> remote;
  std::unique_ptr<RouteFollower> follower;
};

class RolloutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = EtcdTestServer::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status().ToString();
    etcd_ = std::move(etcd).value();
    for (auto* client : {&gateway_etcd_, &worker_etcd_, &probe_etcd_}) {
      auto created = EtcdClient::Create({{etcd_->endpoint()}});
      ASSERT_TRUE(created.ok());
      *client = std::move(created).value();
    }
  }
  void StartWorkers() {
    for (const char* id : {"w1", "w2", "w3"}) {
      workers_.push_back(std::make_unique<TestWorker>(*probe_etcd_));
      workers_.back()->StartAgent(id, *worker_etcd_);
    }
  }
  std::vector<std::string> Addresses() const {
    std::vector<std::string> out;
    for (auto& w : workers_) out.push_back(w->address);
    return out;
  }
  std::string ServedAtWorkers(const std::string& prompt) {
    for (auto& w : workers_) {
      std::lock_guard lock(w->recording->mu);
      auto it = w->recording->served_by_prompt.find(prompt);
      if (it != w->recording->served_by_prompt.end()) return it->second;
    }
    return "";
  }
  void TearDown() override {
    for (auto& w : workers_) {
      if (w->agent) w->agent->Stop();
    }
  }

  std::unique_ptr<EtcdTestServer> etcd_;
  std::unique_ptr<EtcdClient> gateway_etcd_, worker_etcd_, probe_etcd_;
  std::vector<std::unique_ptr<TestWorker>> workers_;
};

TEST_F(RolloutTest, AllWorkersReadyFlipsTheRouteInOneTransaction) {
  StartWorkers();
  TestGateway gateway(Addresses(), *gateway_etcd_);
  TestGateway other(Addresses(), *gateway_etcd_);  // follows the route through its watch only

  // Traffic throughout: each request notes whether the flip had been reported when it was sent.
  std::atomic<bool> flipped{false};
  std::atomic<bool> stop{false};
  std::atomic<int> sent_after_flip{0};
  struct Sent {
    std::string prompt;
    bool after_flip;
    Status status;
  };
  std::vector<Sent> sent;
  std::thread traffic([&] {
    for (int i = 0; !stop.load(); ++i) {
      const bool after = flipped.load();
      const std::string prompt = "Once upon a time " + std::to_string(i);
      Status s = gateway.Complete("stories", prompt);
      sent.push_back({prompt, after, s});
      if (after) ++sent_after_flip;
    }
  });
  ASSERT_TRUE(WaitFor([&] { return workers_[0]->recording->served_by_prompt.size() +
                                       workers_[1]->recording->served_by_prompt.size() >= 3; },
                      10s));

  DeployCoordinator coordinator(*gateway_etcd_, kPrefix, 20ms);
  std::vector<DeployProgress> steps;
  auto result = coordinator.Run(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1", "w2", "w3"}, 30s},
      [&](const DeployProgress& p) {
        steps.push_back(p);
        if (p.state == DeployState::kCommitted) {
          gateway.routes->Set(p.model, p.served);  // the deploying gateway applies it at once
          flipped = true;
        }
      },
      WaitUntilListed(*gateway.remote));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->state, DeployState::kCommitted) << result->reason;
  for (const auto& [w, state] : result->workers) EXPECT_EQ(state, "ready") << w;
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps.front().state, DeployState::kPreparing);

  ASSERT_TRUE(WaitFor([&] { return sent_after_flip.load() >= 5; }, 30s));
  stop = true;
  traffic.join();

  // One transaction wrote both the route and the plan's commit.
  auto route = probe_etcd_->Get(RouteKey(kPrefix, "stories"));
  auto plan = probe_etcd_->Get(PlanKey(kPrefix, result->deploy_id));
  ASSERT_TRUE(route.ok() && plan.ok());
  ASSERT_EQ(route->kvs.size(), 1u);
  EXPECT_EQ(route->kvs[0].mod_revision, result->commit_revision);
  EXPECT_EQ(plan->kvs[0].mod_revision, result->commit_revision);
  EXPECT_EQ(DecodeRoute(route->kvs[0].value)->served, "stories@v2");
  EXPECT_EQ(DecodeDeployPlan(plan->kvs[0].value)->state, DeployState::kCommitted);

  // Every request succeeded; none after the flip reached the old version, none reached the new
  // one before etcd had the new route.
  int before = 0, after = 0;
  for (const Sent& s : sent) {
    EXPECT_TRUE(s.status.ok()) << s.prompt << ": " << s.status.ToString();
    const std::string served = ServedAtWorkers(s.prompt);
    if (s.after_flip) {
      ++after;
      EXPECT_EQ(served, "stories@v2") << s.prompt;
    } else {
      ++before;
    }
  }
  EXPECT_GE(before, 3);
  EXPECT_GE(after, 5);
  for (auto& w : workers_) {
    EXPECT_EQ(w->recording->new_before_flip.load(), 0);
    EXPECT_TRUE(w->Lists("stories@v2"));
    EXPECT_TRUE(w->Lists("stories"));  // the old version stays loaded (docs: "Rollouts")
  }

  // The other gateway follows through its watch.
  ASSERT_TRUE(WaitFor([&] { return other.routes->Resolve("stories") == "stories@v2"; }, 5s));
  ASSERT_TRUE(other.Complete("stories", "after the flip, elsewhere").ok());
  EXPECT_EQ(ServedAtWorkers("after the flip, elsewhere"), "stories@v2");

  // GET of the deploy reads the same outcome back from etcd.
  auto got = coordinator.Get(result->deploy_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, DeployState::kCommitted);
  EXPECT_EQ(got->workers.at("w3"), "ready");
}

TEST_F(RolloutTest, AWorkerThatFailsToLoadAbortsAndTheOthersUnload) {
  // w3's copy of the file is truncated: a real load failure in the real loader.
  const std::string bad = std::filesystem::temp_directory_path() /
                          ("llmux-rollout-corrupt-" + std::to_string(::getpid()) + ".gguf");
  {
    std::ifstream in(testing::SharedPath("models/stories260K.gguf"), std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), head.size());
    std::ofstream(bad, std::ios::binary) << head;
  }
  for (int i = 0; i < 3; ++i) workers_.push_back(std::make_unique<TestWorker>(*probe_etcd_));
  CorruptCopies corrupt(*workers_[2]->service, bad);
  workers_[0]->StartAgent("w1", *worker_etcd_);
  workers_[1]->StartAgent("w2", *worker_etcd_);
  workers_[2]->StartAgent("w3", *worker_etcd_, &corrupt);
  TestGateway gateway(Addresses(), *gateway_etcd_);

  DeployCoordinator coordinator(*gateway_etcd_, kPrefix, 20ms);
  auto result = coordinator.Run(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1", "w2", "w3"}, 30s},
      {}, WaitUntilListed(*gateway.remote));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, DeployState::kAborted);
  EXPECT_NE(result->reason.find("w3"), std::string::npos) << result->reason;
  EXPECT_TRUE(result->workers.at("w3").starts_with("failed")) << result->workers.at("w3");

  // The plan says aborted, the route is untouched, the prepared workers unload v2.
  auto plan = probe_etcd_->Get(PlanKey(kPrefix, result->deploy_id));
  EXPECT_EQ(DecodeDeployPlan(plan->kvs.at(0).value)->state, DeployState::kAborted);
  EXPECT_TRUE(probe_etcd_->Get(RouteKey(kPrefix, "stories"))->kvs.empty());
  EXPECT_TRUE(WaitFor([&] {
    for (auto& w : workers_) {
      if (w->Lists("stories@v2")) return false;
    }
    return true;
  }, 10s));
  EXPECT_EQ(gateway.routes->Resolve("stories"), "stories");
  ASSERT_TRUE(gateway.Complete("stories", "after the abort").ok());
  EXPECT_EQ(ServedAtWorkers("after the abort"), "stories");
  workers_[2]->agent->Stop();  // before `corrupt` goes
  std::filesystem::remove(bad);
}

TEST_F(RolloutTest, AWorkerThatNeverAnswersTimesOutAndAborts) {
  StartWorkers();
  TestGateway gateway(Addresses(), *gateway_etcd_);
  DeployCoordinator coordinator(*gateway_etcd_, kPrefix, 20ms);
  const auto started = std::chrono::steady_clock::now();
  auto result = coordinator.Run(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1", "w2", "ghost"}, 2s},
      {}, WaitUntilListed(*gateway.remote));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, DeployState::kAborted);
  EXPECT_NE(result->reason.find("timed out"), std::string::npos) << result->reason;
  EXPECT_NE(result->reason.find("ghost"), std::string::npos) << result->reason;
  EXPECT_EQ(result->workers.at("ghost"), "preparing");
  EXPECT_EQ(result->workers.at("w1"), "ready");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_TRUE(probe_etcd_->Get(RouteKey(kPrefix, "stories"))->kvs.empty());
  EXPECT_TRUE(WaitFor([&] { return !workers_[0]->Lists("stories@v2") && !workers_[1]->Lists("stories@v2"); }, 10s));
  EXPECT_FALSE(workers_[2]->Lists("stories@v2"));  // w3 was not named
  EXPECT_EQ(gateway.routes->Resolve("stories"), "stories");
}

}  // namespace
}  // namespace llmux::rollout
