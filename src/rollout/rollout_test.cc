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
#include <mutex>
#include <optional>
#include <thread>

#include "discovery/etcd_client.h"
#include "discovery/etcd_test_server.h"
#include "rollout/deploy_agent.h"
#include "rollout/deploy_coordinator.h"
#include "rollout/deploy_service.h"
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
const char* kUndecided = "the coordinator did not decide by the deadline";

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

DeployPlan StoriesV2Plan(std::string id, std::vector<std::string> workers, int64_t deadline_unix_ms) {
  DeployPlan plan;
  plan.id = std::move(id);
  plan.model = "stories";
  plan.version = "v2";
  plan.path = testing::SharedPath("models/stories260K.gguf");
  plan.workers = std::move(workers);
  plan.deadline_unix_ms = deadline_unix_ms;
  return plan;
}

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

// A worker whose load of `blocked` waits until release() and then fails: it holds the agent's
// work thread for as long as the test wants.
class BlockingLoad : public serving::ModelManager {
 public:
  BlockingLoad(serving::ModelManager& inner, std::string blocked)
      : inner_(inner), blocked_(std::move(blocked)) {}
  Status LoadModel(serving::ModelSpec spec) override {
    if (spec.name != blocked_) return inner_.LoadModel(std::move(spec));
    entered.set_value();
    released_.wait();
    return UnavailableError("blocked by the test");
  }
  Status UnloadModel(const std::string& name) override { return inner_.UnloadModel(name); }
  void release() { release_.set_value(); }
  std::promise<void> entered;

 private:
  serving::ModelManager& inner_;
  std::string blocked_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
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
  void StartAgent(const std::string& id, EtcdClient& etcd, serving::ModelManager* manager = nullptr,
                  std::chrono::milliseconds abort_grace = 5s) {
    agent = std::make_unique<DeployAgent>(etcd, manager ? *manager : *service,
                                          DeployAgentOptions{kPrefix, id, abort_grace});
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
  void StartWorkers(std::chrono::milliseconds abort_grace = 5s) {
    for (const char* id : {"w1", "w2", "w3"}) {
      workers_.push_back(std::make_unique<TestWorker>(*probe_etcd_));
      workers_.back()->StartAgent(id, *worker_etcd_, nullptr, abort_grace);
    }
  }
  // Writes a plan the way a coordinator does, as if that coordinator then died; returns the
  // plan's mod revision.
  int64_t WriteOrphanPlan(const DeployPlan& plan) {
    const std::string key = PlanKey(kPrefix, plan.id);
    discovery::EtcdTxn create;
    create.compares.push_back({key, discovery::EtcdCompare::Target::kCreateRevision,
                               discovery::EtcdCompare::Op::kEqual, 0, {}});
    create.success.push_back(discovery::EtcdOp::Put(key, EncodeDeployPlan(plan)));
    auto created = probe_etcd_->Txn(create);
    EXPECT_TRUE(created.ok() && created->succeeded);
    return created.ok() ? created->revision : 0;
  }
  std::optional<DeployPlan> ReadPlan(const std::string& id) {
    auto got = probe_etcd_->Get(PlanKey(kPrefix, id));
    if (!got.ok() || got->kvs.empty()) return std::nullopt;
    auto plan = DecodeDeployPlan(got->kvs[0].value);
    if (!plan.ok()) return std::nullopt;
    return std::move(plan).value();
  }
  // The worker's report on the plan, or nullopt while there is none.
  std::optional<WorkerReport> ReadReport(const std::string& id, const std::string& worker) {
    auto got = probe_etcd_->Get(ReportKey(kPrefix, id, worker));
    if (!got.ok() || got->kvs.empty()) return std::nullopt;
    auto report = DecodeWorkerReport(got->kvs[0].value);
    if (!report.ok()) return std::nullopt;
    return std::move(report).value();
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

// An audit log in memory (the SQL store's is tested in store_test).
class MemoryAuditLog : public audit::AuditLog {
 public:
  Result<int64_t> Append(const audit::Event& event) override {
    std::lock_guard lock(mu_);
    events_.push_back(event);
    return static_cast<int64_t>(events_.size());
  }
  Result<audit::EventList> List(audit::Page) override {
    std::lock_guard lock(mu_);
    return audit::EventList{events_, false, 0};
  }
  std::vector<audit::Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<audit::Event> events_;
};

TEST_F(RolloutTest, TheDeployServiceRecordsWhoStartedEachDeployOnce) {
  StartWorkers();
  TestGateway gateway(Addresses(), *gateway_etcd_);
  MemoryAuditLog log;
  DeployServiceOptions options;
  options.prefix = kPrefix;
  std::vector<std::string> registered = {"w1", "w2", "w3"};
  options.registered_workers = [&registered] { return registered; };
  DeployService deploys(*gateway_etcd_, *gateway.routes, *gateway.remote, options);
  deploys.SetAuditLog(&log);
  const audit::Actor actor{"user:7", "ops", "10.1.2.3"};

  auto started = deploys.Start(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {}, 30s}, actor);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  registered.clear();  // a deploy without workers now has none to go to
  auto refused = deploys.Start({"stories", "v3", "x.gguf", {}, 30s}, actor);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);

  const std::vector<audit::Event> events = log.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].action, "deploys.start");
  EXPECT_EQ(events[0].actor, "user:7");
  EXPECT_EQ(events[0].source, "10.1.2.3");
  EXPECT_EQ(events[0].outcome, "ok");
  EXPECT_EQ(events[0].target, "deploy:" + started->deploy_id);
  EXPECT_EQ(events[0].detail, "model:stories@v2");
  EXPECT_EQ(events[1].action, "deploys.start");
  EXPECT_EQ(events[1].outcome, "failed");
  EXPECT_EQ(events[1].target, "model:stories@v3");
  EXPECT_EQ(events[1].detail, refused.status().message());

  // The first deploy goes on to its end (the service's destructor would wait for it anyway).
  EXPECT_TRUE(WaitFor(
      [&] {
        auto now = deploys.Get(started->deploy_id);
        return now.ok() && now->state != DeployState::kPreparing;
      },
      30s));
}

TEST_F(RolloutTest, ProgressStreamsHaveAShareForEachCallerAndALimitInAll) {
  StartWorkers();
  TestGateway gateway(Addresses(), *gateway_etcd_);
  DeployServiceOptions options;
  options.prefix = kPrefix;
  options.max_follows = 3;
  options.max_follows_per_caller = 2;
  DeployService deploys(*gateway_etcd_, *gateway.routes, *gateway.remote, options);
  auto started = deploys.Start(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1", "w2", "w3"}, 30s});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const std::string id = started->deploy_id;
  auto follow = [&](const std::string& deploy, const std::string& caller) {
    return deploys.Follow(deploy, caller, [](const Result<DeployProgress>&) {});
  };

  auto a1 = follow(id, "user:1");
  auto a2 = follow(id, "user:1");
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(follow(id, "user:1").status().code(), StatusCode::kResourceExhausted);  // its share
  auto b1 = follow(id, "user:2");
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(follow(id, "user:2").status().code(), StatusCode::kResourceExhausted);  // the total
  EXPECT_EQ(follow("no-such-deploy", "user:3").status().code(), StatusCode::kResourceExhausted);
  // A dropped follow gives its place back, and a refused one takes none.
  a1->reset();
  EXPECT_EQ(follow("no-such-deploy", "user:3").status().code(), StatusCode::kNotFound);
  auto b2 = follow(id, "user:2");
  EXPECT_TRUE(b2.ok()) << b2.status().ToString();
  a2->reset();
  b1->reset();
  b2->reset();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto now = deploys.Get(id);
        return now.ok() && now->state != DeployState::kPreparing;
      },
      30s));
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

  // Another gateway (its own etcd client) follows the deploy from the moment the plan exists.
  DeployCoordinator watcher(*probe_etcd_, kPrefix);
  std::mutex followed_mu;
  std::vector<Result<DeployProgress>> followed;
  std::unique_ptr<discovery::EtcdWatch> follow;
  DeployCoordinator coordinator(*gateway_etcd_, kPrefix, 20ms);
  auto result = coordinator.Run(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1", "w2", "w3"}, 30s},
      [&](const DeployProgress& p) {
        if (follow) return;
        auto f = watcher.Follow(p.deploy_id, [&](const Result<DeployProgress>& now) {
          std::lock_guard lock(followed_mu);
          followed.push_back(now);
        });
        ASSERT_TRUE(f.ok()) << f.status().ToString();
        follow = std::move(f).value();
      },
      WaitUntilListed(*gateway.remote));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, DeployState::kAborted);

  // What the follower saw: preparing first, the abort last (as the coordinator ended it), no
  // step twice in a row, and nothing after the end.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(followed_mu);
        return !followed.empty() && followed.back().ok() &&
               followed.back()->state != DeployState::kPreparing;
      },
      10s));
  {
    std::lock_guard lock(followed_mu);
    ASSERT_TRUE(followed.front().ok());
    EXPECT_EQ(followed.front()->state, DeployState::kPreparing);
    EXPECT_EQ(followed.back()->state, DeployState::kAborted);
    EXPECT_EQ(followed.back()->reason, result->reason);
    // (Its workers are read later than the coordinator's: a worker may have reported ready since.)
    EXPECT_TRUE(followed.back()->workers.at("w3").starts_with("failed"))
        << followed.back()->workers.at("w3");
    for (size_t i = 0; i + 1 < followed.size(); ++i) {
      ASSERT_TRUE(followed[i].ok()) << followed[i].status().ToString();
      EXPECT_EQ(followed[i]->state, DeployState::kPreparing) << i;
      EXPECT_FALSE(*followed[i] == *followed[i + 1]) << i;
    }
  }
  follow.reset();
  EXPECT_EQ(watcher.Follow("no-such-deploy", [](const Result<DeployProgress>&) {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(watcher.Follow("bad id", [](const Result<DeployProgress>&) {}).status().code(),
            StatusCode::kInvalidArgument);
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

// The coordinator died after writing its plan: the workers that prepared it abort it themselves
// once the deadline and their grace have passed, and unload what they loaded.
TEST_F(RolloutTest, APlanLeftPreparingByADeadCoordinatorIsAbortedByTheWorkers) {
  constexpr auto kGrace = 500ms;
  StartWorkers(kGrace);
  TestGateway gateway(Addresses(), *gateway_etcd_);
  // Long enough for every worker to load stories260K before it.
  const DeployPlan plan = StoriesV2Plan("orphan-1", {"w1", "w2", "w3"}, NowUnixMs() + 8000);
  WriteOrphanPlan(plan);

  // Prepared as usual: every worker loads the version and reports ready.
  ASSERT_TRUE(WaitFor([&] {
    for (const char* w : {"w1", "w2", "w3"}) {
      if (!ReadReport(plan.id, w)) return false;
    }
    return true;
  }, 30s));
  for (int i = 0; i < 3; ++i) {
    const std::string w = "w" + std::to_string(i + 1);
    auto report = ReadReport(plan.id, w);
    EXPECT_TRUE(report->ready) << w << ": " << report->reason;
    EXPECT_TRUE(workers_[i]->Lists("stories@v2")) << w;
  }

  // No one decides; after deadline + grace a worker aborts it.
  std::optional<DeployPlan> now;
  ASSERT_TRUE(WaitFor([&] {
    now = ReadPlan(plan.id);
    return now && now->state != DeployState::kPreparing;
  }, 60s));
  EXPECT_GE(NowUnixMs(), plan.deadline_unix_ms + kGrace.count());  // not before its time
  EXPECT_EQ(now->state, DeployState::kAborted);
  EXPECT_NE(now->reason.find(kUndecided), std::string::npos) << now->reason;
  EXPECT_TRUE(now->reason.starts_with("worker w1:") || now->reason.starts_with("worker w2:") ||
              now->reason.starts_with("worker w3:"))
      << now->reason;
  // Everything else in the plan is as the coordinator wrote it.
  DeployPlan expected = plan;
  expected.state = DeployState::kAborted;
  expected.reason = now->reason;
  EXPECT_EQ(*now, expected);

  // Every worker unloads; the route never changed and requests go to the old version.
  EXPECT_TRUE(WaitFor([&] {
    for (auto& w : workers_) {
      if (w->Lists("stories@v2")) return false;
    }
    return true;
  }, 10s));
  EXPECT_TRUE(probe_etcd_->Get(RouteKey(kPrefix, "stories"))->kvs.empty());
  size_t tried = 0;
  for (auto& w : workers_) tried += w->agent->timeout_aborts_tried();
  EXPECT_GE(tried, 1u);
  ASSERT_TRUE(gateway.Complete("stories", "after the orphan").ok());
  EXPECT_EQ(ServedAtWorkers("after the orphan"), "stories");
}

// A worker restarted after the deadline finds the plan still preparing: it does not load it,
// and it settles it so that it does not linger.
TEST_F(RolloutTest, APlanFoundPreparingPastItsDeadlineAtStartUpIsAborted) {
  const DeployPlan plan = StoriesV2Plan("orphan-2", {"w1", "gone"}, NowUnixMs() - 60000);
  WriteOrphanPlan(plan);
  workers_.push_back(std::make_unique<TestWorker>(*probe_etcd_));
  workers_[0]->StartAgent("w1", *worker_etcd_, nullptr, 1s);

  std::optional<DeployPlan> now;
  ASSERT_TRUE(WaitFor([&] {
    now = ReadPlan(plan.id);
    return now && now->state != DeployState::kPreparing;
  }, 30s));
  EXPECT_EQ(now->state, DeployState::kAborted);
  EXPECT_TRUE(now->reason.starts_with("worker w1: ")) << now->reason;
  EXPECT_NE(now->reason.find(kUndecided), std::string::npos) << now->reason;
  auto report = ReadReport(plan.id, "w1");
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->ready);
  EXPECT_FALSE(workers_[0]->Lists("stories@v2"));
}

// A commit that reaches etcd before the worker's abort wins: the worker's abort transaction
// finds the plan changed, and the worker keeps the version. The worker's work thread is held
// (loading another plan) until after its deadline + grace and the commit, so the order is fixed.
TEST_F(RolloutTest, ACommitThatReachesEtcdBeforeTheWorkersAbortWins) {
  constexpr auto kGrace = 200ms;
  workers_.push_back(std::make_unique<TestWorker>(*probe_etcd_));
  BlockingLoad blocking(*workers_[0]->service, "stories@hold");
  workers_[0]->StartAgent("w1", *worker_etcd_, &blocking, kGrace);

  const DeployPlan plan = StoriesV2Plan("late-commit", {"w1"}, NowUnixMs() + 8000);
  const int64_t plan_revision = WriteOrphanPlan(plan);
  ASSERT_TRUE(WaitFor([&] { return ReadReport(plan.id, "w1").has_value(); }, 30s));
  ASSERT_TRUE(ReadReport(plan.id, "w1")->ready);
  ASSERT_TRUE(workers_[0]->Lists("stories@v2"));

  DeployPlan hold = StoriesV2Plan("hold", {"w1"}, NowUnixMs() + 600000);
  hold.version = "hold";
  WriteOrphanPlan(hold);
  ASSERT_EQ(blocking.entered.get_future().wait_for(30s), std::future_status::ready);
  ASSERT_TRUE(WaitFor([&] { return NowUnixMs() > plan.deadline_unix_ms + kGrace.count(); }, 30s));

  // The coordinator's commit transaction, late but first.
  DeployPlan committed = plan;
  committed.state = DeployState::kCommitted;
  discovery::EtcdTxn txn;
  txn.compares.push_back({PlanKey(kPrefix, plan.id), discovery::EtcdCompare::Target::kModRevision,
                          discovery::EtcdCompare::Op::kEqual, plan_revision, {}});
  txn.success.push_back(discovery::EtcdOp::Put(RouteKey(kPrefix, "stories"),
                                               EncodeRoute({"v2", "stories@v2", plan.id})));
  txn.success.push_back(discovery::EtcdOp::Put(PlanKey(kPrefix, plan.id), EncodeDeployPlan(committed)));
  auto flipped = gateway_etcd_->Txn(txn);
  ASSERT_TRUE(flipped.ok() && flipped->succeeded);

  blocking.release();
  // The worker tries its abort (its timer is due) and loses; then it sees the commit.
  ASSERT_TRUE(WaitFor([&] { return workers_[0]->agent->timeout_aborts_tried() >= 1; }, 30s));
  ASSERT_TRUE(WaitFor([&] { return workers_[0]->agent->handled() >= 3; }, 30s));
  std::optional<DeployPlan> now = ReadPlan(plan.id);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(DeployStateName(now->state), "committed") << now->reason;
  EXPECT_TRUE(*now == committed);
  EXPECT_TRUE(workers_[0]->Lists("stories@v2"));
  workers_[0]->agent->Stop();  // before `blocking` goes
}

// A coordinator that overruns its deadline (here: waiting in before_commit) finds the workers'
// abort in etcd; it reports that outcome and does not commit.
TEST_F(RolloutTest, ACoordinatorPastItsDeadlineFindsTheWorkersAbortAndDoesNotCommit) {
  StartWorkers(300ms);
  DeployCoordinator coordinator(*gateway_etcd_, kPrefix, 20ms);
  std::string id;
  auto result = coordinator.Run(
      {"stories", "v2", testing::SharedPath("models/stories260K.gguf"), {"w1"}, 8s},
      [&](const DeployProgress& p) { id = p.deploy_id; },
      [&](const std::string&, std::chrono::steady_clock::time_point) {
        // Stalls until a worker has given up on this coordinator.
        return WaitFor([&] {
          auto plan = ReadPlan(id);
          return plan && plan->state == DeployState::kAborted;
        }, 60s);
      });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->state, DeployState::kAborted);
  EXPECT_TRUE(result->reason.starts_with("worker w1: ")) << result->reason;
  EXPECT_NE(result->reason.find(kUndecided), std::string::npos) << result->reason;
  EXPECT_EQ(ReadPlan(id)->state, DeployState::kAborted);
  EXPECT_TRUE(probe_etcd_->Get(RouteKey(kPrefix, "stories"))->kvs.empty());
  EXPECT_TRUE(WaitFor([&] { return !workers_[0]->Lists("stories@v2"); }, 10s));
}

}  // namespace
}  // namespace llmux::rollout
