// The AccessGate's decisions on real credentials (a LocalAuthService on SQLite): public routes,
// /metrics made public by configuration, permissions, per-address limits on login routes, and
// the Bearer header parsing.
#include "gateway/access/access_gate.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "auth/local_auth_service.h"
#include "services/requestlog/request_log.h"
#include "store/sqlite_store.h"

namespace llmux::gateway {
namespace {

class AccessGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-gate-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auth_ = std::make_unique<auth::LocalAuthService>(*store_, *store_);
    ASSERT_TRUE(auth_->Init().ok());
    auth::Principal admin = auth::AnonymousAdmin();
    auto user = auth_->CreateUser(auth::Actor{admin, "test"}, auth::NewUser{"u", "", {"user"}});
    ASSERT_TRUE(user.ok());
    auto key = auth_->CreateKey(auth::Actor{admin, "test"}, auth::NewKey{.owner_user_id = user->id});
    ASSERT_TRUE(key.ok());
    user_key_ = key->full_key;
    limiter_ = std::make_unique<auth::RateLimiter>(counters_, store_.get());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  const RouteRule& Rule(std::string_view method, std::string_view path) {
    const RouteRule* r = FindRouteRule(Protocol::kHttp, method, path);
    EXPECT_NE(r, nullptr) << path;
    return *r;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::LocalAuthService> auth_;
  auth::InMemoryLimitCounters counters_;
  std::unique_ptr<auth::RateLimiter> limiter_;
  std::string user_key_;
};

TEST_F(AccessGateTest, PublicRoutesNeverAskForCredentialsAndGrantNothing) {
  AccessGate gate(auth_.get(), limiter_.get());
  for (std::string_view bearer : {std::string_view(), std::string_view("garbage")}) {
    AccessDecision d = gate.Check(Rule("GET", "/health"), bearer, "10.0.0.1:5");
    ASSERT_TRUE(d.status.ok()) << d.status.ToString();
    EXPECT_FALSE(d.access->principal().Allows("metrics:read"));
    EXPECT_FALSE(d.access->principal().MayUseModel("m"));
  }
  EXPECT_EQ(gate.Check(Rule("GET", "/metrics"), "", "10.0.0.1:5").status.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(gate.Check(Rule("GET", "/metrics"), user_key_, "10.0.0.1:5").status.code(),
            StatusCode::kPermissionDenied);

  AccessGate open_metrics(auth_.get(), limiter_.get(), AccessGateOptions{.public_metrics = true});
  EXPECT_TRUE(open_metrics.Check(Rule("GET", "/metrics"), "", "10.0.0.1:5").status.ok());
  EXPECT_EQ(open_metrics.Check(Rule("GET", "/admin/v1/users"), "", "10.0.0.1:5").status.code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AccessGateTest, ModelRoutesCheckTheModelOnceKnown) {
  AccessGate gate(auth_.get(), limiter_.get());
  AccessDecision d = gate.Check(Rule("POST", "/v1/chat/completions"), user_key_, "10.0.0.2:7");
  ASSERT_TRUE(d.status.ok());
  EXPECT_TRUE(d.access->AllowModel("any-model").ok());
  EXPECT_EQ(d.access->principal().display.rfind("llmux_", 0), 0u);
}

TEST_F(AccessGateTest, LoginAttemptsAreLimitedPerAddress) {
  AccessGate gate(auth_.get(), limiter_.get(), AccessGateOptions{.credential_attempts_per_minute = 3});
  const RouteRule& login = Rule("POST", "/auth/login");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(gate.Check(login, "", "192.0.2.1:1000").status.ok()) << i;
  AccessDecision refused = gate.Check(login, "", "192.0.2.1:2000");  // another port, same address
  EXPECT_EQ(refused.status.code(), StatusCode::kResourceExhausted);
  EXPECT_GE(refused.retry_after_s, 1);
  EXPECT_TRUE(gate.Check(login, "", "192.0.2.2:1000").status.ok());
}

TEST_F(AccessGateTest, WithAuthOffEveryoneIsAnAnonymousAdmin) {
  AccessGate gate(nullptr, nullptr);
  AccessDecision d = gate.Check(Rule("DELETE", "/admin/v1/users"), "", "127.0.0.1:9");
  ASSERT_TRUE(d.status.ok());
  EXPECT_TRUE(d.access->principal().Allows("users:manage"));
  EXPECT_TRUE(d.access->AllowModel("whatever").ok());
}

TEST_F(AccessGateTest, ACallerHoldsAtMostItsShareOfCallsInFlight) {
  AccessGate gate(auth_.get(), limiter_.get(), AccessGateOptions{.calls_per_caller = 2});
  const RouteRule& chat = Rule("POST", "/v1/chat/completions");
  AccessDecision first = gate.Check(chat, user_key_, "10.0.0.2:7");
  AccessDecision second = gate.Check(chat, user_key_, "10.0.0.3:7");  // from elsewhere: same caller
  ASSERT_TRUE(first.status.ok() && second.status.ok());
  EXPECT_EQ(first.access->share(), "user:" + std::to_string(first.access->principal().user_id));
  AccessDecision third = gate.Check(chat, user_key_, "10.0.0.2:7");
  EXPECT_EQ(third.status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status.message().find("share"), std::string::npos);
  EXPECT_GE(third.retry_after_s, 1);
  // Routes that are not limited (listing models, admin) are not counted.
  EXPECT_TRUE(gate.Check(Rule("GET", "/v1/models"), user_key_, "10.0.0.2:7").status.ok());

  // Another user's key is not affected by the full share.
  auth::Principal admin = auth::AnonymousAdmin();
  auto other = auth_->CreateUser(auth::Actor{admin, "test"}, auth::NewUser{"v", "", {"user"}});
  ASSERT_TRUE(other.ok());
  auto other_key = auth_->CreateKey(auth::Actor{admin, "test"}, auth::NewKey{.owner_user_id = other->id});
  ASSERT_TRUE(other_key.ok());
  EXPECT_TRUE(gate.Check(chat, other_key->full_key, "10.0.0.2:7").status.ok());

  // A second key of the same user shares the user's share.
  auto second_key = auth_->CreateKey(auth::Actor{admin, "test"},
                                     auth::NewKey{.owner_user_id = first.access->principal().user_id});
  ASSERT_TRUE(second_key.ok());
  EXPECT_EQ(gate.Check(chat, second_key->full_key, "10.0.0.2:7").status.code(),
            StatusCode::kResourceExhausted);

  // The share is held as long as the call's tracked sink: a stream outliving its handler keeps it.
  std::shared_ptr<serving::Sink> sink = first.access->Track(nullptr, "qwen3");
  first.access.reset();
  EXPECT_EQ(gate.Check(chat, user_key_, "10.0.0.2:7").status.code(), StatusCode::kResourceExhausted);
  sink = nullptr;
  EXPECT_TRUE(gate.Check(chat, user_key_, "10.0.0.2:7").status.ok());
}

TEST_F(AccessGateTest, WithAuthOffThereAreNoShares) {
  AccessGate gate(nullptr, nullptr, AccessGateOptions{.calls_per_caller = 1});
  AccessDecision a = gate.Check(Rule("POST", "/v1/chat/completions"), "", "127.0.0.1:9");
  AccessDecision b = gate.Check(Rule("POST", "/v1/chat/completions"), "", "127.0.0.1:9");
  EXPECT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(a.access->share(), "");
}

TEST(SourceAddressTest, DropsThePortAndTheGrpcScheme) {
  EXPECT_EQ(SourceAddress("10.0.0.1:5"), "10.0.0.1");
  EXPECT_EQ(SourceAddress("ipv4:10.0.0.1:5"), "10.0.0.1");
  EXPECT_EQ(SourceAddress("[::1]:5"), "::1");
  EXPECT_EQ(SourceAddress("ipv6:[::1]:5"), "::1");
  EXPECT_EQ(SourceAddress("ipv6:[2001:db8::7]:443"), "2001:db8::7");
  EXPECT_EQ(SourceAddress("2001:db8::7"), "2001:db8::7");
  EXPECT_EQ(SourceAddress("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(SourceAddress("[::1]"), "::1");
  EXPECT_EQ(SourceAddress(""), "");
}

TEST(BearerTokenTest, ParsesTheSchemeCaseInsensitivelyAndNothingElse) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken(""), "");
}

// The request log hook: one record per call, with the caller, the first-token time, the usage
// and the outcome in the protocol's terms.
struct NullSink : serving::Sink {
  int deltas = 0;
  int finishes = 0;
  void OnDelta(const serving::Delta&) override { ++deltas; }
  void OnFinish(const serving::Finish&) override { ++finishes; }
};

TEST_F(AccessGateTest, TrackedCallsAreRecordedOnceWithTheirOutcome) {
  requestlog::RequestLog log(*store_, {});
  AccessGate gate(auth_.get(), limiter_.get());
  gate.SetRequestLog(&log);
  const RouteRule& chat = Rule("POST", "/v1/chat/completions");

  AccessDecision ok = gate.Check(chat, user_key_, "10.0.0.9:1234");
  ASSERT_TRUE(ok.status.ok());
  auto inner = std::make_shared<NullSink>();
  auto sink = ok.access->Track(inner, "qwen3", "the prompt");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sink->OnDelta(serving::Delta{});
  sink->OnDelta(serving::Delta{});
  serving::Finish finish;
  finish.usage = serving::Usage{11, 7, 3};
  sink->OnFinish(finish);
  sink->Refuse(InternalError("late"));  // ignored: the call is already recorded
  EXPECT_EQ(inner->deltas, 2);
  EXPECT_EQ(inner->finishes, 1);

  AccessDecision cancelled = gate.Check(chat, user_key_, "10.0.0.9:1235");
  ASSERT_TRUE(cancelled.status.ok());
  serving::Finish stop;
  stop.reason = serving::FinishReason::kCancelled;
  cancelled.access->Track(std::make_shared<NullSink>(), "qwen3")->OnFinish(stop);

  AccessDecision refused = gate.Check(chat, user_key_, "10.0.0.9:1236");
  ASSERT_TRUE(refused.status.ok());
  refused.access->Track(std::make_shared<NullSink>(), "qwen3")
      ->Refuse(ResourceExhaustedError("queue full"));
  AccessDecision invalid = gate.Check(chat, user_key_, "10.0.0.9:1237");
  ASSERT_TRUE(invalid.status.ok());
  invalid.access->Refuse(InvalidArgumentError("bad body"));

  log.Flush();
  auto got = log.List({}, requestlog::RequestPage{0, 10});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->items.size(), 4u);
  const auto& r = got->items[3];  // the first, oldest
  EXPECT_EQ(r.protocol, "http");
  EXPECT_EQ(r.route, "POST /v1/chat/completions");
  EXPECT_EQ(r.principal, ok.access->principal().subject);
  EXPECT_EQ(r.key_id, ok.access->principal().key_id);
  EXPECT_EQ(r.user_id, ok.access->principal().user_id);
  EXPECT_NE(r.key_id, 0);
  EXPECT_EQ(r.model, "qwen3");
  EXPECT_EQ(r.client, "10.0.0.9");
  EXPECT_EQ(r.prompt, "");  // prompts are not kept by default
  EXPECT_EQ(r.prompt_tokens, 11);
  EXPECT_EQ(r.completion_tokens, 7);
  EXPECT_EQ(r.cached_tokens, 3);
  EXPECT_GE(r.ttft_ms, 20);
  EXPECT_GE(r.latency_ms, r.ttft_ms);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error_class, "");
  EXPECT_EQ(got->items[2].status, 499);
  EXPECT_EQ(got->items[2].error_class, "cancelled");
  EXPECT_EQ(got->items[1].status, 429);
  EXPECT_EQ(got->items[1].error_class, "resource_exhausted");
  EXPECT_EQ(got->items[1].ttft_ms, -1);
  EXPECT_EQ(got->items[0].status, 400);
  EXPECT_EQ(got->items[0].error_class, "invalid_argument");
  EXPECT_EQ(got->items[0].model, "");
}

}  // namespace
}  // namespace llmux::gateway
