// WorkerRegistration against a real etcd: what it leaves in etcd, and when.
#include "discovery/worker_registration.h"

#include <gtest/gtest.h>

#include <thread>

#include "discovery/discovery_test_util.h"
#include "discovery/etcd_test_server.h"

namespace llmux::discovery {
namespace {

using namespace std::chrono_literals;

class WorkerRegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdTestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    auto client = EtcdClient::Create({.endpoints = {server_->endpoint()}, .call_timeout = 500ms});
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
  }

  std::unique_ptr<WorkerRegistration> Make(int ttl_s = 2) {
    auto r = WorkerRegistration::Create(
        {.etcd = {.endpoints = {server_->endpoint()}, .call_timeout = 500ms}, .ttl_s = ttl_s});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // The record under /llmux/workers/<id>, with its lease; nullopt when absent.
  std::optional<std::pair<WorkerRecord, int64_t>> Read(const std::string& id) {
    auto got = client_->Get("/llmux/workers/" + id);
    if (!got.ok() || got->kvs.empty()) return std::nullopt;
    auto record = DecodeWorkerRecord(got->kvs[0].value);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    if (!record.ok()) return std::nullopt;
    return std::make_pair(*record, got->kvs[0].lease);
  }

  std::unique_ptr<EtcdTestServer> server_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(WorkerRegistrationTest, RegistersUnderALeaseAndStopDeregistersAtOnce) {
  auto registration = Make();
  ASSERT_TRUE(registration->Start(TestWorker("w1")).ok());
  EXPECT_TRUE(registration->registered());
  EXPECT_EQ(registration->key(), "/llmux/workers/w1");
  auto stored = Read("w1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->first, TestWorker("w1"));
  ASSERT_NE(stored->second, 0);
  // etcdctl sees the same JSON.
  auto value = server_->Etcdctl("get /llmux/workers/w1 --print-value-only");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, EncodeWorkerRecord(TestWorker("w1")) + "\n");

  ASSERT_TRUE(registration->Stop().ok());
  EXPECT_FALSE(Read("w1").has_value());
  EXPECT_EQ(client_->KeepAliveOnce(stored->second).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(registration->registered());
  EXPECT_TRUE(registration->Stop().ok());  // idempotent
}

TEST_F(WorkerRegistrationTest, KeptAliveBeyondItsTtlAndExpiresWhenDestroyedWithoutStop) {
  auto registration = Make(2);
  ASSERT_TRUE(registration->Start(TestWorker("w1")).ok());
  std::this_thread::sleep_for(3s);  // longer than the TTL: only the refreshes keep it
  ASSERT_TRUE(Read("w1").has_value());
  registration.reset();  // like kill -9: nothing deleted, the lease runs out
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(Read("w1").has_value());
  EXPECT_TRUE(WaitFor([&] { return !Read("w1").has_value(); }, 3s));
}

TEST_F(WorkerRegistrationTest, UpdateRewritesTheRecord) {
  auto registration = Make();
  ASSERT_TRUE(registration->Start(TestWorker("w1")).ok());
  const int64_t lease = Read("w1")->second;
  WorkerRecord changed = TestWorker("w1");
  changed.models = {"qwen3-0.6b", "llama-3.2-1b"};
  changed.standby = true;
  ASSERT_TRUE(registration->Update(changed).ok());
  EXPECT_EQ(Read("w1")->first, changed);
  EXPECT_EQ(Read("w1")->second, lease);
  WorkerRecord other = TestWorker("w2");
  EXPECT_EQ(registration->Update(other).code(), StatusCode::kInvalidArgument);
}

TEST_F(WorkerRegistrationTest, RegistersAgainAfterLosingItsLease) {
  auto registration = Make(2);
  ASSERT_TRUE(registration->Start(TestWorker("w1")).ok());
  const int64_t lease = Read("w1")->second;
  ASSERT_TRUE(client_->RevokeLease(lease).ok());  // as if it had expired
  EXPECT_FALSE(Read("w1").has_value());
  ASSERT_TRUE(WaitFor([&] { return Read("w1").has_value(); }, 2s));
  EXPECT_NE(Read("w1")->second, lease);
  EXPECT_TRUE(WaitFor([&] { return registration->registered(); }, 1s));
}

TEST_F(WorkerRegistrationTest, StartsBeforeEtcdAndRegistersOnceItAnswers) {
  server_->Kill();
  auto registration = Make(2);
  EXPECT_EQ(registration->Start(TestWorker("w1")).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(registration->registered());
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return Read("w1").has_value(); }, 3s));
  EXPECT_TRUE(WaitFor([&] { return registration->registered(); }, 1s));
}

TEST_F(WorkerRegistrationTest, RefusesBadRecordsAndOptions) {
  auto registration = Make();
  WorkerRecord bad = TestWorker("a/b");
  EXPECT_EQ(registration->Start(bad).code(), StatusCode::kInvalidArgument);
  WorkerRecord huge = TestWorker("w1");
  huge.models.assign(10000, "some-model-name");
  EXPECT_EQ(registration->Start(huge).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(registration->Start(TestWorker("w1")).ok());
  EXPECT_EQ(registration->Start(TestWorker("w1")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WorkerRegistration::Create({.etcd = {.endpoints = {server_->endpoint()}}, .ttl_s = 0})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux::discovery
