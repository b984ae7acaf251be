// WorkerWatcher against a real etcd, with real WorkerRegistrations: what a gateway sees.
#include "discovery/worker_watcher.h"

#include <gtest/gtest.h>

#include <thread>

#include "discovery/discovery_test_util.h"
#include "discovery/etcd_test_server.h"
#include "discovery/worker_registration.h"

namespace llmux::discovery {
namespace {

using namespace std::chrono_literals;

class WorkerWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdTestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  EtcdClientOptions Etcd() const {
    return {.endpoints = {server_->endpoint()}, .call_timeout = 500ms};
  }

  std::unique_ptr<WorkerRegistration> Register(const std::string& id) {
    auto r = WorkerRegistration::Create({.etcd = Etcd(), .ttl_s = 2});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    EXPECT_TRUE((*r)->Start(TestWorker(id)).ok());
    return std::move(r).value();
  }

  std::unique_ptr<WorkerWatcher> Watch(ViewLog& log) {
    auto w = WorkerWatcher::Create({.etcd = Etcd(), .retry_interval = 200ms}, log.Callback());
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    if (!w.ok()) return nullptr;
    EXPECT_TRUE((*w)->Start().ok());
    return std::move(w).value();
  }

  std::unique_ptr<EtcdTestServer> server_;
};

TEST_F(WorkerWatcherTest, SeesRegistrationsWithin1sAndStopAtOnce) {
  ViewLog log;
  auto watcher = Watch(log);
  ASSERT_TRUE(WaitFor([&] { return log.count() == 1; }, 2s));
  EXPECT_EQ(log.last(), "");  // the first list is reported even when empty
  auto w1 = Register("w1");
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w1"; }, 1s));
  auto w2 = Register("w2");
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w1,w2"; }, 1s));
  EXPECT_EQ(Ids(watcher->Current()), "w1,w2");
  EXPECT_TRUE(watcher->connected());

  ASSERT_TRUE(w1->Stop().ok());
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w2"; }, 500ms));

  WorkerRecord changed = TestWorker("w2");
  changed.models.push_back("llama-3.2-1b");
  ASSERT_TRUE(w2->Update(changed).ok());
  ASSERT_TRUE(WaitFor([&] { return watcher->Current().at(0).models.size() == 2; }, 1s));
  EXPECT_EQ(log.views().back().at(0), changed);
}

TEST_F(WorkerWatcherTest, StartedAfterTheRegistrationSeesItInTheFirstList) {
  auto w1 = Register("w1");
  // Values that are not valid records of their key are left out.
  auto client = EtcdClient::Create(Etcd());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Put("/llmux/workers/garbage", "{not json").ok());
  ASSERT_TRUE((*client)->Put("/llmux/workers/w9", EncodeWorkerRecord(TestWorker("other"))).ok());
  ASSERT_TRUE((*client)->Put("/llmux/workersX", EncodeWorkerRecord(TestWorker("w3"))).ok());
  ViewLog log;
  auto watcher = Watch(log);
  ASSERT_TRUE(WaitFor([&] { return log.count() >= 1; }, 2s));
  EXPECT_EQ(Ids(log.views().front()), "w1");
}

TEST_F(WorkerWatcherTest, AKilledWorkerDisappearsWithinItsTtl) {
  auto w1 = Register("w1");
  ViewLog log;
  auto watcher = Watch(log);
  ASSERT_TRUE(WaitFor([&] { return log.last() == "w1"; }, 2s));
  w1.reset();  // no Stop: like kill -9
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(log.last(), "w1");
  EXPECT_TRUE(WaitFor([&] { return log.last() == ""; }, 3s));  // TTL 2 s + etcd's expiry check
}

TEST_F(WorkerWatcherTest, KeepsItsLastViewWhileEtcdIsHung) {
  auto w1 = Register("w1");
  ViewLog log;
  auto watcher = Watch(log);
  ASSERT_TRUE(WaitFor([&] { return log.last() == "w1"; }, 2s));
  const size_t reports = log.count();
  server_->Pause();  // longer than the TTL
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(log.count(), reports);
  EXPECT_EQ(Ids(watcher->Current()), "w1");
  server_->Resume();
  // The worker's refreshes resume; whatever etcd decides about the lease meanwhile, the
  // registration reconciles and the watcher ends with the worker in view.
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w1" && w1->registered(); }, 5s));
}

TEST_F(WorkerWatcherTest, ReconcilesAfterEtcdRestartsWithItsData) {
  auto w1 = Register("w1");
  auto w2 = Register("w2");
  ViewLog log;
  auto watcher = Watch(log);
  ASSERT_TRUE(WaitFor([&] { return log.last() == "w1,w2"; }, 2s));
  const size_t reports = log.count();

  w2.reset();  // w2 dies during the outage: nobody refreshes its lease any more
  server_->Kill();
  EXPECT_TRUE(WaitFor([&] { return !watcher->connected(); }, 2s));
  std::this_thread::sleep_for(2500ms);
  // The gateway keeps routing on its last view: nothing reported, both workers still there.
  EXPECT_EQ(log.count(), reports);
  EXPECT_EQ(Ids(watcher->Current()), "w1,w2");
  EXPECT_FALSE(w1->registered());

  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return watcher->connected(); }, 3s));
  EXPECT_TRUE(WaitFor([&] { return w1->registered(); }, 3s));
  // w2's lease runs out after the restart; w1's registration is kept (or put again).
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w1"; }, 5s)) << log.last();
  for (const auto& view : log.views()) {
    EXPECT_NE(Ids(view).find("w1"), std::string::npos) << "w1 was reported gone: " << Ids(view);
  }
}

TEST_F(WorkerWatcherTest, StartsBeforeEtcdAndReportsOnceItAnswers) {
  server_->Kill();
  ViewLog log;
  auto watcher = Watch(log);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(log.count(), 0u);
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return log.count() == 1; }, 3s));
  auto w1 = Register("w1");
  EXPECT_TRUE(WaitFor([&] { return log.last() == "w1"; }, 1s));
}

}  // namespace
}  // namespace llmux::discovery
