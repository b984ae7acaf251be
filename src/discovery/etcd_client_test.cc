// EtcdClient against a real etcd (see etcd_test_server.h).
#include "discovery/etcd_client.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "discovery/etcd_test_server.h"

namespace llmux::discovery {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = EtcdTestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    auto client = EtcdClient::Create({.endpoints = {server_->endpoint()}, .call_timeout = 1000ms});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }

  std::unique_ptr<EtcdTestServer> server_;
  std::unique_ptr<EtcdClient> client_;
};

// Events and the end of a watch, as the watch thread reports them.
struct WatchLog {
  std::mutex mu;
  std::vector<EtcdEvent> events;
  Status error;
  int64_t compact_revision = 0;
  bool ended = false;

  EtcdWatchCallback Callback() {
    return [this](const EtcdWatchUpdate& u) {
      std::lock_guard lock(mu);
      events.insert(events.end(), u.events.begin(), u.events.end());
      if (!u.error.ok()) {
        error = u.error;
        compact_revision = u.compact_revision;
        ended = true;
      }
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return events.size();
  }
  bool has_ended() {
    std::lock_guard lock(mu);
    return ended;
  }
};

TEST_F(EtcdClientTest, PutGetPrefixDelete) {
  auto r1 = client_->Put("/t/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  auto r2 = client_->Put("/t/b", "2");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(client_->Put("/u/x", "other prefix").ok());
  auto r3 = client_->Put("/t/a", "one");
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(*r2, *r1 + 1);
  EXPECT_EQ(*r3, *r2 + 2);

  auto a = client_->Get("/t/a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->kvs.size(), 1u);
  EXPECT_EQ(a->kvs[0].value, "one");
  EXPECT_EQ(a->kvs[0].create_revision, *r1);
  EXPECT_EQ(a->kvs[0].mod_revision, *r3);
  EXPECT_EQ(a->kvs[0].version, 2);
  EXPECT_EQ(a->revision, *r3);
  // What etcd's own client reads.
  auto etcdctl = server_->Etcdctl("get /t/a --print-value-only");
  ASSERT_TRUE(etcdctl.ok()) << etcdctl.status().ToString();
  EXPECT_EQ(*etcdctl, "one\n");

  auto missing = client_->Get("/t/none");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->kvs.empty());

  auto prefix = client_->GetPrefix("/t/");
  ASSERT_TRUE(prefix.ok());
  ASSERT_EQ(prefix->kvs.size(), 2u);
  EXPECT_EQ(prefix->kvs[0].key, "/t/a");
  EXPECT_EQ(prefix->kvs[1].key, "/t/b");
  EXPECT_EQ(prefix->kvs[1].value, "2");
  auto all = client_->GetPrefix("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kvs.size(), 3u);

  auto deleted = client_->Delete("/t/a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  deleted = client_->Delete("/t/a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  EXPECT_EQ(*server_->Etcdctl("get /t/a --print-value-only"), "");
}

TEST_F(EtcdClientTest, PrefixRangeEnd) {
  EXPECT_EQ(EtcdClient::PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(EtcdClient::PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(EtcdClient::PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST_F(EtcdClientTest, TxnComparesAndRunsOneBranch) {
  auto rev = client_->Put("/t/k", "v1");
  ASSERT_TRUE(rev.ok());
  EtcdTxn txn{
      .compares = {{.key = "/t/k", .target = EtcdCompare::Target::kModRevision, .number = *rev},
                   {.key = "/t/k", .target = EtcdCompare::Target::kValue, .value = "v1"}},
      .success = {EtcdOp::Put("/t/k", "v2"), EtcdOp::Put("/t/k2", "x")},
      .failure = {EtcdOp::Get("/t/k")}};
  auto first = client_->Txn(txn);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->succeeded);
  EXPECT_TRUE(first->gets.empty());
  EXPECT_EQ(*server_->Etcdctl("get /t/k --print-value-only"), "v2\n");

  // The same transaction again: the key moved on, so the failure branch reads it.
  auto second = client_->Txn(txn);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->succeeded);
  ASSERT_EQ(second->gets.size(), 1u);
  ASSERT_EQ(second->gets[0].size(), 1u);
  EXPECT_EQ(second->gets[0][0].value, "v2");
  EXPECT_EQ(second->revision, first->revision);  // a failed compare writes nothing

  // Create-if-absent: version 0 means the key does not exist.
  EtcdTxn create{
      .compares = {{.key = "/t/new", .target = EtcdCompare::Target::kVersion, .number = 0}},
      .success = {EtcdOp::Put("/t/new", "made")},
      .failure = {}};
  EXPECT_TRUE(client_->Txn(create)->succeeded);
  EXPECT_FALSE(client_->Txn(create)->succeeded);
  EtcdTxn remove{.compares = {{.key = "/t/new",
                               .target = EtcdCompare::Target::kValue,
                               .op = EtcdCompare::Op::kNotEqual,
                               .value = "other"}},
                 .success = {EtcdOp::Delete("/t/new")},
                 .failure = {}};
  EXPECT_TRUE(client_->Txn(remove)->succeeded);
  EXPECT_TRUE(client_->Get("/t/new")->kvs.empty());
}

TEST_F(EtcdClientTest, LeaseIsKeptWhileAliveAndExpiresWithout) {
  auto lease = client_->GrantLease(1);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(client_->Put("/t/leased", "x", *lease).ok());
  EXPECT_EQ(client_->Get("/t/leased")->kvs.at(0).lease, *lease);
  // Kept alive for twice the TTL.
  const auto until = Clock::now() + 2s;
  while (Clock::now() < until) {
    auto ttl = client_->KeepAliveOnce(*lease);
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_GE(*ttl, 1);
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(client_->Get("/t/leased")->kvs.size(), 1u);
  // Left alone, it expires (TTL 1 s plus etcd's expiry check every 500 ms).
  EXPECT_TRUE(WaitFor([&] { return client_->Get("/t/leased")->kvs.empty(); }, 3s));
  auto gone = client_->KeepAliveOnce(*lease);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, RevokeDeletesTheLeasesKeys) {
  auto lease = client_->GrantLease(30);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("/t/r1", "x", *lease).ok());
  ASSERT_TRUE(client_->Put("/t/r2", "y", *lease).ok());
  ASSERT_TRUE(client_->RevokeLease(*lease).ok());
  EXPECT_TRUE(client_->GetPrefix("/t/")->kvs.empty());
  EXPECT_EQ(client_->RevokeLease(*lease).code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->KeepAliveOnce(*lease).status().code(), StatusCode::kNotFound);
  // A put under a lease etcd does not know is refused.
  EXPECT_EQ(client_->Put("/t/r3", "z", *lease).status().code(), StatusCode::kNotFound);
}

TEST_F(EtcdClientTest, UnreachableEtcdIsUnavailableWithinTheTimeout) {
  server_->Kill();
  const auto start = Clock::now();
  auto got = client_->Get("/t/a");
  EXPECT_LT(Clock::now() - start, 1500ms);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find(server_->endpoint()), std::string::npos)
      << got.status().message();
  EXPECT_EQ(client_->GrantLease(5).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client_->KeepAliveOnce(1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client_->Watch("/t/", 0, [](const EtcdWatchUpdate&) {}).status().code(),
            StatusCode::kUnavailable);

  // etcd back on the same port: the client reconnects within about a second.
  ASSERT_TRUE(server_->Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return client_->Put("/t/a", "back").ok(); }, 3s));
}

TEST_F(EtcdClientTest, HungEtcdIsUnavailableWithinTheTimeout) {
  ASSERT_TRUE(client_->Put("/t/a", "1").ok());  // connected
  server_->Pause();
  const auto start = Clock::now();
  auto put = client_->Put("/t/a", "2");
  const auto took = Clock::now() - start;
  server_->Resume();
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable);
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(WaitFor([&] { return client_->Get("/t/a").ok(); }, 3s));
}

TEST_F(EtcdClientTest, EndpointsAreTriedInTurn) {
  // Nothing listens on the first endpoint (the killed server's port of another instance).
  auto other = EtcdTestServer::Start();
  ASSERT_TRUE(other.ok());
  const std::string dead = (*other)->endpoint();
  (*other)->Kill();
  auto client =
      EtcdClient::Create({.endpoints = {dead, server_->endpoint()}, .call_timeout = 1000ms});
  ASSERT_TRUE(client.ok());
  auto put = (*client)->Put("/t/turn", "ok");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ((*client)->Get("/t/turn")->kvs.at(0).value, "ok");
}

TEST_F(EtcdClientTest, RejectsBadOptions) {
  EXPECT_EQ(EtcdClient::Create({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({.endpoints = {"http://127.0.0.1:2379"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdClient::Create({.endpoints = {"localhost"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->GrantLease(0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EtcdClientTest, WatchReportsPutsAndDeletesUnderThePrefix) {
  WatchLog log;
  auto watch = client_->Watch("/w/", 0, log.Callback(), /*prev_kv=*/true);
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(client_->Put("/w/a", "1").ok());
  ASSERT_TRUE(client_->Put("/x/ignored", "1").ok());
  ASSERT_TRUE(client_->Put("/w/a", "2").ok());
  ASSERT_TRUE(client_->Delete("/w/a").ok());
  ASSERT_TRUE(WaitFor([&] { return log.size() >= 3; }, 2s));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(log.mu);
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[0].type, EtcdEvent::Type::kPut);
  EXPECT_EQ(log.events[0].kv.value, "1");
  EXPECT_FALSE(log.events[0].prev_kv.has_value());
  EXPECT_EQ(log.events[1].kv.value, "2");
  ASSERT_TRUE(log.events[1].prev_kv.has_value());
  EXPECT_EQ(log.events[1].prev_kv->value, "1");
  EXPECT_EQ(log.events[2].type, EtcdEvent::Type::kDelete);
  EXPECT_EQ(log.events[2].kv.key, "/w/a");
  EXPECT_FALSE(log.ended);
}

TEST_F(EtcdClientTest, WatchFromAnOldRevisionReplaysHistory) {
  auto first = client_->Put("/w/a", "1");
  ASSERT_TRUE(client_->Put("/w/a", "2").ok());
  WatchLog log;
  auto watch = client_->Watch("/w/", *first, log.Callback());
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(WaitFor([&] { return log.size() >= 2; }, 2s));
  (*watch)->Cancel();
  EXPECT_EQ(log.events[0].kv.value, "1");
  EXPECT_EQ(log.events[1].kv.value, "2");
  EXPECT_FALSE(log.has_ended());  // a cancel by the owner is not reported
}

TEST_F(EtcdClientTest, WatchOfACompactedRevisionEndsWithOutOfRange) {
  ASSERT_TRUE(client_->Put("/w/a", "1").ok());
  ASSERT_TRUE(client_->Put("/w/a", "2").ok());
  auto last = client_->Put("/w/a", "3");
  ASSERT_TRUE(server_->Etcdctl("compact " + std::to_string(*last)).ok());
  WatchLog log;
  auto watch = client_->Watch("/w/", 1, log.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return log.has_ended(); }, 2s));
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.error.code(), StatusCode::kOutOfRange) << log.error.ToString();
  EXPECT_EQ(log.compact_revision, *last);
}

TEST_F(EtcdClientTest, WatchReportsALostConnection) {
  WatchLog log;
  auto watch = client_->Watch("/w/", 0, log.Callback());
  ASSERT_TRUE(watch.ok());
  server_->Kill();
  ASSERT_TRUE(WaitFor([&] { return log.has_ended(); }, 3s));
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.error.code(), StatusCode::kUnavailable) << log.error.ToString();
}

}  // namespace
}  // namespace llmux::discovery
