// ModelLifecycle with times the test chooses: idle unload after the keep-alive, Ollama's
// keep_alive semantics per request, and least-recently-used eviction that never takes a model
// with requests in flight or one given on the command line.
#include "serving/model_lifecycle.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

using Names = std::vector<std::string>;

ModelStatus StatusOf(const ModelLifecycle& l, const std::string& name) {
  for (const ModelStatus& s : l.List()) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << name << " not listed";
  return {};
}

void Load(ModelLifecycle& l, const std::string& name, double now,
          std::optional<double> keep_alive = std::nullopt, bool pinned = false) {
  auto evicted = l.BeginLoad(name, "/m/" + name + ".gguf", pinned, now);
  ASSERT_TRUE(evicted.ok()) << evicted.status().ToString();
  ASSERT_TRUE(evicted->empty());
  l.Loaded(name, keep_alive, 1000, 200, now);
}

TEST(ModelLifecycleTest, IdleModelIsUnloadedWhenItsKeepAliveRunsOut) {
  ModelLifecycle l({.max_loaded_models = 0, .default_keep_alive_s = 30});
  Load(l, "a", 100);
  Load(l, "b", 100, 60.0);
  Load(l, "pinned", 100, std::nullopt, /*pinned=*/true);
  EXPECT_EQ(StatusOf(l, "a").state, ModelState::kIdle);
  EXPECT_EQ(StatusOf(l, "a").expires_at, 130);
  EXPECT_EQ(StatusOf(l, "b").expires_at, 160);
  EXPECT_FALSE(StatusOf(l, "pinned").expires_at.has_value());
  EXPECT_FALSE(StatusOf(l, "pinned").keep_alive_s.has_value());
  EXPECT_EQ(StatusOf(l, "a").weights_bytes, 1000);
  EXPECT_EQ(StatusOf(l, "a").kv_bytes, 200);
  EXPECT_EQ(l.NextExpiry(), 130);

  // A request at 120 that runs until 125: no countdown while it runs, 30 s from its end.
  ASSERT_TRUE(l.RequestStarted("a", std::nullopt, 120));
  EXPECT_EQ(StatusOf(l, "a").state, ModelState::kLoaded);
  EXPECT_FALSE(StatusOf(l, "a").expires_at.has_value());
  // At 1000 only b has run out: a is busy, the pinned model never does.
  EXPECT_EQ(l.TakeExpired(1000), Names{"b"});
}

TEST(ModelLifecycleTest, ExpiryCountsFromTheLastRequestsEnd) {
  ModelLifecycle l({.max_loaded_models = 0, .default_keep_alive_s = 30});
  Load(l, "a", 100);
  Load(l, "b", 100, 60.0);
  ASSERT_TRUE(l.RequestStarted("a", std::nullopt, 120));
  EXPECT_EQ(l.NextExpiry(), 160);  // only b counts down
  EXPECT_EQ(l.TakeExpired(150), Names{});
  l.RequestFinished("a", 125);
  EXPECT_EQ(StatusOf(l, "a").state, ModelState::kIdle);
  EXPECT_EQ(StatusOf(l, "a").expires_at, 155);
  EXPECT_EQ(l.TakeExpired(154.9), Names{});
  EXPECT_EQ(l.TakeExpired(155), Names{"a"});
  EXPECT_EQ(StatusOf(l, "a").state, ModelState::kUnloading);
  EXPECT_FALSE(l.RequestStarted("a", std::nullopt, 156));  // no new request on it
  l.Unloaded("a");
  EXPECT_EQ(l.List().size(), 1u);
  EXPECT_EQ(l.TakeExpired(160), Names{"b"});
}

TEST(ModelLifecycleTest, RequestKeepAliveActsAsOllamasDoes) {
  ModelLifecycle l({.max_loaded_models = 0, .default_keep_alive_s = -1});
  Load(l, "a", 0);
  Load(l, "pinned", 0, std::nullopt, /*pinned=*/true);
  EXPECT_FALSE(StatusOf(l, "a").expires_at.has_value());  // the default: forever

  // keep_alive "5m": 300 s after the request.
  ASSERT_TRUE(l.RequestStarted("a", 300.0, 10));
  l.RequestFinished("a", 12);
  EXPECT_EQ(StatusOf(l, "a").keep_alive_s, 300);
  EXPECT_EQ(StatusOf(l, "a").expires_at, 312);
  // Negative: forever.
  ASSERT_TRUE(l.RequestStarted("a", -1.0, 20));
  l.RequestFinished("a", 21);
  EXPECT_FALSE(StatusOf(l, "a").expires_at.has_value());
  EXPECT_EQ(l.TakeExpired(1e9), Names{});
  // 0: unloaded as soon as the request has ended, not before.
  ASSERT_TRUE(l.RequestStarted("a", 0.0, 30));
  EXPECT_EQ(l.TakeExpired(31), Names{});
  l.RequestFinished("a", 32);
  EXPECT_EQ(l.TakeExpired(32), Names{"a"});

  // A model given on the command line stays whatever the request says.
  ASSERT_TRUE(l.RequestStarted("pinned", 0.0, 40));
  l.RequestFinished("pinned", 41);
  EXPECT_EQ(l.TakeExpired(1e9), Names{});
  EXPECT_TRUE(l.SetKeepAlive("pinned", 0, 50).ok());
  EXPECT_EQ(l.TakeExpired(1e9), Names{});

  // Setting it without a request (Ollama's load call): from now.
  Load(l, "b", 60);
  ASSERT_TRUE(l.SetKeepAlive("b", 5, 70).ok());
  EXPECT_EQ(StatusOf(l, "b").expires_at, 75);
  EXPECT_EQ(l.SetKeepAlive("nope", 5, 70).code(), StatusCode::kNotFound);
}

TEST(ModelLifecycleTest, EvictsTheLeastRecentlyUsedIdleModel) {
  ModelLifecycle l({.max_loaded_models = 3, .default_keep_alive_s = -1});
  Load(l, "a", 1);
  Load(l, "b", 2);
  Load(l, "c", 3);
  // Use order now: b, a, c (c was loaded last; a and b used since, b first).
  ASSERT_TRUE(l.RequestStarted("b", std::nullopt, 4));
  l.RequestFinished("b", 4);
  ASSERT_TRUE(l.RequestStarted("a", std::nullopt, 5));
  l.RequestFinished("a", 5);

  auto evicted = l.BeginLoad("d", "/m/d.gguf", false, 6);
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, Names{"c"});
  EXPECT_EQ(StatusOf(l, "c").state, ModelState::kUnloading);
  EXPECT_EQ(StatusOf(l, "d").state, ModelState::kLoading);
  l.Unloaded("c");
  l.Loaded("d", std::nullopt, 1, 1, 7);

  // Next: b is the least recently used.
  evicted = l.BeginLoad("e", "/m/e.gguf", false, 8);
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, Names{"b"});
}

TEST(ModelLifecycleTest, NeverEvictsABusyOrPinnedModel) {
  ModelLifecycle l({.max_loaded_models = 2, .default_keep_alive_s = -1});
  Load(l, "pinned", 1, std::nullopt, /*pinned=*/true);
  Load(l, "busy", 2);
  ASSERT_TRUE(l.RequestStarted("busy", std::nullopt, 3));
  // The least recently used is the pinned one, then busy: neither may go.
  auto refused = l.BeginLoad("x", "/m/x.gguf", false, 4);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("--max-loaded-models"), std::string::npos);
  EXPECT_EQ(StatusOf(l, "busy").state, ModelState::kLoaded);  // untouched
  EXPECT_EQ(l.List().size(), 2u);

  // Once its request ended, the busy one is the one to go.
  l.RequestFinished("busy", 5);
  auto evicted = l.BeginLoad("x", "/m/x.gguf", false, 6);
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, Names{"busy"});

  // A loading model counts against the limit too.
  l.Unloaded("busy");
  EXPECT_EQ(l.BeginLoad("y", "/m/y.gguf", false, 7).status().code(),
            StatusCode::kResourceExhausted);
}

TEST(ModelLifecycleTest, FailedLoadsAreListedWithTheirReasonAndBounded) {
  ModelLifecycle l({.max_loaded_models = 1, .default_keep_alive_s = -1});
  ASSERT_TRUE(l.BeginLoad("bad", "/m/bad.gguf", false, 1).ok());
  l.LoadFailed("bad", "bad magic", 2);
  EXPECT_EQ(StatusOf(l, "bad").state, ModelState::kFailed);
  EXPECT_EQ(StatusOf(l, "bad").reason, "bad magic");
  // A failed model takes no room and may be loaded again.
  Load(l, "good", 3);
  EXPECT_EQ(l.BeginLoad("good", "/m/good.gguf", false, 4).status().code(),
            StatusCode::kAlreadyExists);
  l.Unloaded("good");  // not unloading: stays
  EXPECT_TRUE(l.IsLoaded("good"));
  ASSERT_TRUE(l.BeginUnload("good").ok());
  l.Unloaded("good");
  Load(l, "bad", 5);
  EXPECT_EQ(StatusOf(l, "bad").state, ModelState::kIdle);
  EXPECT_TRUE(StatusOf(l, "bad").reason.empty());

  ModelLifecycle many({.max_loaded_models = 0, .default_keep_alive_s = -1});
  for (int i = 0; i < 40; ++i) {
    const std::string name = "f" + std::to_string(i);
    ASSERT_TRUE(many.BeginLoad(name, "", false, 10 + i).ok());
    many.LoadFailed(name, "no", 10 + i);
  }
  const std::vector<ModelStatus> kept = many.List();
  ASSERT_EQ(kept.size(), ModelLifecycle::kMaxFailed);
  for (const ModelStatus& s : kept) {  // the newest: f24..f39
    EXPECT_GE(std::stoi(s.name.substr(1)), 40 - static_cast<int>(ModelLifecycle::kMaxFailed));
  }
}

}  // namespace
}  // namespace llmux::serving
