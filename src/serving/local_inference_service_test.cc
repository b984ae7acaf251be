// The in-process serving core over the real stories260K model: completions and chat
// through the plain template, stop sequences, cancellation, errors and load failures, and
// loading and unloading models while requests run.
#include "serving/local_inference_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "tests/support/test_paths.h"

namespace llmux::serving {
namespace {

const std::string kStories = llmux::testing::SharedPath("models/stories260K.gguf");

class CollectSink : public Sink {
 public:
  void OnDelta(const Delta& d) override {
    content += d.content;
    reasoning += d.reasoning;
    for (const auto& lp : d.logprobs) logprobs.push_back(lp);
    ++deltas;
  }
  void OnFinish(const Finish& f) override { done.set_value(f); }
  std::string content, reasoning;
  std::vector<TokenLogprob> logprobs;
  int deltas = 0;
  std::promise<Finish> done;
};

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelHostOptions options;
    options.n_threads = 1;
    service_ = new LocalInferenceService({ModelSpec{"stories", kStories}}, options);
    ASSERT_TRUE(service_->WaitLoaded().ok());
  }
  static void TearDownTestSuite() { delete service_; }
  static LocalInferenceService* service_;
};
LocalInferenceService* ServiceTest::service_ = nullptr;

CompletionRequest Greedy(const std::string& prompt, int max_tokens) {
  CompletionRequest r;
  r.model = "stories";
  r.prompt = prompt;
  r.options.sampling.temperature = 0.0f;
  r.options.max_tokens = max_tokens;
  return r;
}

TEST_F(ServiceTest, ListsTheModel) {
  EXPECT_TRUE(service_->Ready());
  auto models = service_->ListModels();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "stories");
  EXPECT_EQ(models[0].architecture, "llama");
  EXPECT_EQ(models[0].quantization, "F32");
  EXPECT_EQ(models[0].context_length, 512);
}

TEST_F(ServiceTest, GreedyCompletionTellsTheStory) {
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Complete(Greedy("Once upon a time", 64), sink).ok());
  Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kLength);
  EXPECT_EQ(f.usage.prompt_tokens, 5);  // BOS + 4 pieces, per the reference vectors
  EXPECT_EQ(f.usage.completion_tokens, 64);
  EXPECT_EQ(sink->content.rfind(", there was a little girl named Lily.", 0), 0u) << sink->content;
}

TEST_F(ServiceTest, StopSequenceIsCutAndNotEmitted) {
  CompletionRequest r = Greedy("Once upon a time", 64);
  r.options.stop = {"Lily"};
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Complete(std::move(r), sink).ok());
  Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kStop);
  EXPECT_EQ(sink->content, ", there was a little girl named ");
  EXPECT_LT(f.usage.completion_tokens, 64);
}

TEST_F(ServiceTest, LogprobsComeWithEveryToken) {
  CompletionRequest r = Greedy("Once upon a time", 8);
  r.options.logprobs = true;
  r.options.top_logprobs = 2;
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Complete(std::move(r), sink).ok());
  sink->done.get_future().get();
  ASSERT_EQ(sink->logprobs.size(), 8u);
  std::string joined;
  for (const auto& lp : sink->logprobs) {
    joined += lp.token;
    ASSERT_EQ(lp.top.size(), 2u);
    EXPECT_EQ(lp.top[0].token, lp.token);  // greedy takes the most likely
  }
  EXPECT_EQ(joined, sink->content);
}

TEST_F(ServiceTest, ChatThroughThePlainTemplate) {
  ChatRequest r;
  r.model = "stories";
  r.messages.push_back(chat::Message{"user", "Once upon a time", std::nullopt, {}, "", ""});
  r.options.sampling.temperature = 0.0f;
  r.options.max_tokens = 16;
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Chat(std::move(r), sink).ok());
  Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kLength);
  EXPECT_EQ(f.usage.completion_tokens, 16);
  EXPECT_FALSE(sink->content.empty());
  EXPECT_TRUE(sink->reasoning.empty());
}

TEST_F(ServiceTest, CancelEndsTheRequest) {
  CompletionRequest r = Greedy("Once upon a time", 400);
  auto sink = std::make_shared<CollectSink>();
  auto handle = service_->Complete(std::move(r), sink);
  ASSERT_TRUE(handle.ok());
  (*handle)->Cancel();
  Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kCancelled);
  EXPECT_LT(f.usage.completion_tokens, 400);
}

TEST_F(ServiceTest, Errors) {
  auto sink = std::make_shared<CollectSink>();
  CompletionRequest unknown = Greedy("x", 4);
  unknown.model = "nope";
  auto r = service_->Complete(unknown, sink);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().field(), "model");

  CompletionRequest hot = Greedy("x", 4);
  hot.options.sampling.temperature = 9.0f;
  EXPECT_EQ(service_->Complete(hot, sink).status().field(), "temperature");

  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += " time";
  auto too_long = service_->Complete(Greedy(long_prompt, 4), sink);
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("context"), std::string::npos);
}

// Holds the engine thread in its first delta until released: every request submitted meanwhile
// stays in the waiting queue.
class GateSink : public CollectSink {
 public:
  void OnDelta(const Delta& d) override {
    CollectSink::OnDelta(d);
    if (!entered_.exchange(true)) {
      inside.set_value();
      release.get_future().wait();
    }
  }
  std::promise<void> inside;
  std::promise<void> release;

 private:
  std::atomic<bool> entered_{false};
};

TEST(ServiceShareTest, ACallerMayHaveOnlyItsShareOfTheQueueWaiting) {
  ModelHostOptions options;
  options.n_threads = 1;
  options.engine.scheduler.max_running = 1;
  options.max_waiting_per_caller = 2;
  LocalInferenceService service({ModelSpec{"stories", kStories}}, options);
  ASSERT_TRUE(service.WaitLoaded().ok());
  auto as = [](const std::string& caller) {
    CompletionRequest r = Greedy("Once upon a time", 3);
    r.options.caller_share = caller;
    return r;
  };

  auto gate = std::make_shared<GateSink>();
  ASSERT_TRUE(service.Complete(as("x"), gate).ok());
  gate->inside.get_future().wait();  // the engine is held: what follows waits

  std::vector<std::shared_ptr<CollectSink>> sinks;
  auto submit = [&](const std::string& caller) {
    sinks.push_back(std::make_shared<CollectSink>());
    return service.Complete(as(caller), sinks.back()).status();
  };
  EXPECT_TRUE(submit("a").ok());
  EXPECT_TRUE(submit("a").ok());
  Status refused = submit("a");
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("share of the queue"), std::string::npos) << refused.ToString();
  sinks.pop_back();
  // Another caller, and a request without a caller share, still get in.
  EXPECT_TRUE(submit("b").ok());
  EXPECT_TRUE(submit("b").ok());
  EXPECT_TRUE(submit("").ok());
  EXPECT_TRUE(submit("").ok());
  EXPECT_TRUE(submit("").ok());

  gate->release.set_value();
  EXPECT_EQ(gate->done.get_future().get().reason, FinishReason::kLength);
  for (auto& sink : sinks) EXPECT_EQ(sink->done.get_future().get().reason, FinishReason::kLength);
  // Started requests left the queue: the share is free again.
  sinks.clear();
  EXPECT_TRUE(submit("a").ok());
  EXPECT_TRUE(submit("a").ok());
  for (auto& sink : sinks) sink->done.get_future().get();
}

TEST(ServiceLoadTest, CorruptModelIsRefusedWithTheReason) {
  const std::string path = ::testing::TempDir() + "/corrupt.gguf";
  {
    std::ifstream in(kStories, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    bytes.resize(bytes.size() / 3);  // truncated
    std::ofstream(path, std::ios::binary) << bytes;
  }
  LocalInferenceService service({ModelSpec{"", path}}, ModelHostOptions{});
  Status s = service.WaitLoaded();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("corrupt.gguf"), std::string::npos) << s.ToString();
  EXPECT_FALSE(service.Ready());
  std::remove(path.c_str());
}

// Loading and unloading at run time (ModelManager), on a service of its own so that the
// other tests' model list stays as it is.
class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelHostOptions options;
    options.n_threads = 1;
    service_ = std::make_unique<LocalInferenceService>(
        std::vector<ModelSpec>{ModelSpec{"stories", kStories}}, options);
    ASSERT_TRUE(service_->WaitLoaded().ok());
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& m : service_->ListModels()) names.push_back(m.id);
    return names;
  }
  std::unique_ptr<LocalInferenceService> service_;
};

// Signals the first delta and slows each one down a little, so that a long generation is
// still running when the test acts on it.
class SlowSink : public CollectSink {
 public:
  void OnDelta(const Delta& d) override {
    CollectSink::OnDelta(d);
    if (!started_.exchange(true)) first.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::promise<void> first;

 private:
  std::atomic<bool> started_{false};
};

std::string WriteTempFile(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST_F(ManagerTest, LoadsASecondNameAndGeneratesOnIt) {
  ASSERT_TRUE(service_->LoadModel(ModelSpec{"second", kStories}).ok());
  EXPECT_EQ(Names(), (std::vector<std::string>{"stories", "second"}));
  EXPECT_TRUE(service_->Ready());
  CompletionRequest r = Greedy("Once upon a time", 16);
  r.model = "second";
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Complete(std::move(r), sink).ok());
  Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kLength);
  EXPECT_EQ(sink->content.rfind(", there was a little girl named Lily.", 0), 0u) << sink->content;
}

TEST_F(ManagerTest, ATakenNameIsRefused) {
  Status s = service_->LoadModel(ModelSpec{"stories", kStories});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  ASSERT_TRUE(service_->LoadModel(ModelSpec{"second", kStories}).ok());
  EXPECT_EQ(service_->LoadModel(ModelSpec{"second", kStories}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Names().size(), 2u);
}

TEST_F(ManagerTest, UnloadCancelsARunningGenerationAndForgetsTheName) {
  ASSERT_TRUE(service_->LoadModel(ModelSpec{"second", kStories}).ok());
  CompletionRequest r = Greedy("Once upon a time", 400);
  r.model = "second";
  r.options.ignore_eos = true;
  auto sink = std::make_shared<SlowSink>();
  auto handle = service_->Complete(std::move(r), sink);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  sink->first.get_future().get();

  ASSERT_TRUE(service_->UnloadModel("second").ok());
  auto done = sink->done.get_future();
  // UnloadModel returns after the host is gone, so the request has finished by now.
  ASSERT_EQ(done.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  Finish f = done.get();
  EXPECT_EQ(f.reason, FinishReason::kCancelled);
  EXPECT_LT(f.usage.completion_tokens, 400);
  (*handle)->Cancel();  // a handle that outlives its model stays safe to use

  EXPECT_EQ(Names(), (std::vector<std::string>{"stories"}));
  CompletionRequest again = Greedy("x", 4);
  again.model = "second";
  auto refused = service_->Complete(again, std::make_shared<CollectSink>());
  EXPECT_EQ(refused.status().code(), StatusCode::kNotFound);

  // The other model is untouched, and the name can be loaded again.
  auto other = std::make_shared<CollectSink>();
  ASSERT_TRUE(service_->Complete(Greedy("Once upon a time", 4), other).ok());
  EXPECT_EQ(other->done.get_future().get().reason, FinishReason::kLength);
  ASSERT_TRUE(service_->LoadModel(ModelSpec{"second", kStories}).ok());
  EXPECT_EQ(Names().size(), 2u);
}

// Requests keep coming while the model is updated again and again: each is served, by the old
// copy or the new one. A request that found the old copy just before it was retired goes to the
// new one instead of being refused as unloaded.
TEST_F(ManagerTest, RequestsRacingHotUpdatesAreAllServed) {
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::vector<std::string> refusals;  // written by the client alone, read after it joined
  std::thread client([&] {
    std::string prompt;  // a long prompt: its tokenization widens the window before submission
    for (int i = 0; i < 60; ++i) prompt += "Once upon a time ";
    while (!stop.load()) {
      auto sink = std::make_shared<CollectSink>();
      auto future = sink->done.get_future();
      auto handle = service_->Complete(Greedy(prompt, 1), sink);
      if (!handle.ok()) {
        refusals.push_back(handle.status().ToString());
        continue;
      }
      EXPECT_EQ(future.get().reason, FinishReason::kLength);
      ++served;
    }
  });
  for (int i = 0; i < 80; ++i) {  // without the retry, 4 runs in 6 saw a refusal
    const Status s = service_->ReplaceModel(ModelSpec{"stories", kStories});
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  stop = true;
  client.join();
  EXPECT_TRUE(refusals.empty()) << refusals.size() << " refused; the first: " << refusals.front();
  EXPECT_GT(served.load(), 0);
}

// Embedding calls keep coming while the model is updated again and again, and each is answered
// in full by one copy. A call of more inputs than the engine takes at once goes on on the copy
// that took its first input even while the update drains it; a call that found the old copy
// just before it was retired goes to the new one (a long input widens that window).
TEST_F(ManagerTest, EmbeddingsRacingHotUpdatesAreAllServed) {
  std::string story;
  for (int i = 0; i < 60; ++i) story += "Once upon a time ";
  EmbedRequest many, long_one;
  many.model = long_one.model = "stories";
  many.caller_share = "user:1";
  long_one.caller_share = "user:2";
  for (int i = 0; i < 12; ++i) {
    many.inputs.push_back(EmbedInput{"there were " + std::to_string(i) + " cats", {}});
  }
  long_one.inputs.push_back(EmbedInput{story, {}});
  auto embed = [&](const EmbedRequest& request) {
    std::promise<Result<EmbedResult>> answer;
    service_->SubmitEmbed(request, [&](Result<EmbedResult> r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  };
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> failures;  // guarded by mu
  int served = 0;                     // guarded by mu
  auto client = [&](const EmbedRequest& request) {
    const Result<EmbedResult> want = embed(request);  // before any update
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    ASSERT_EQ(want->embeddings.size(), request.inputs.size());
    while (!stop.load()) {
      const Result<EmbedResult> got = embed(request);
      std::lock_guard<std::mutex> lock(mu);
      if (!got.ok()) {
        failures.push_back(got.status().ToString());
        continue;
      }
      EXPECT_EQ(got->prompt_tokens, want->prompt_tokens);
      ASSERT_EQ(got->embeddings.size(), want->embeddings.size());
      for (size_t i = 0; i < got->embeddings.size(); ++i) {
        ASSERT_EQ(got->embeddings[i].size(), want->embeddings[i].size());
        for (size_t j = 0; j < got->embeddings[i].size(); ++j) {
          ASSERT_NEAR(got->embeddings[i][j], want->embeddings[i][j], 1e-4) << "input " << i;
        }
      }
      ++served;
    }
  };
  std::thread many_client(client, std::cref(many)), long_client(client, std::cref(long_one));
  for (int i = 0; i < 60; ++i) {
    const Status s = service_->ReplaceModel(ModelSpec{"stories", kStories});
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  stop = true;
  many_client.join();
  long_client.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed; the first: " << failures.front();
  EXPECT_GT(served, 0);
}

TEST_F(ManagerTest, UnloadingAnUnknownModelIsNotFound) {
  Status s = service_->UnloadModel("nope");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("nope"), std::string::npos);
}

TEST_F(ManagerTest, BadFilesAreRefusedWithTheReason) {
  const std::string garbage =
      WriteTempFile("garbage.gguf", std::string("GGUF\x03\x00\x00\x00\xff\xff", 10));
  Status s = service_->LoadModel(ModelSpec{"bad", garbage});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("garbage.gguf"), std::string::npos) << s.ToString();

  std::string bytes;
  {
    std::ifstream in(kStories, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes.resize(bytes.size() / 2);
  const std::string truncated = WriteTempFile("half.gguf", bytes);
  s = service_->LoadModel(ModelSpec{"bad", truncated});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("half.gguf"), std::string::npos) << s.ToString();

  s = service_->LoadModel(ModelSpec{"bad", ::testing::TempDir() + "/missing.gguf"});
  EXPECT_FALSE(s.ok());

  EXPECT_EQ(Names(), (std::vector<std::string>{"stories"}));
  EXPECT_TRUE(service_->Ready());
  // The name of a failed load is free again.
  ASSERT_TRUE(service_->LoadModel(ModelSpec{"bad", kStories}).ok());
  std::remove(garbage.c_str());
  std::remove(truncated.c_str());
}

TEST_F(ManagerTest, RequestsRaceLoadsAndUnloads) {
  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, finished{0};
  std::thread client([&] {
    while (!stop.load()) {
      CompletionRequest r = Greedy("Once upon a time", 8);
      r.model = "churn";
      auto sink = std::make_shared<CollectSink>();
      auto future = sink->done.get_future();
      auto handle = service_->Complete(std::move(r), sink);
      if (!handle.ok()) {
        EXPECT_EQ(handle.status().code(), StatusCode::kNotFound) << handle.status().ToString();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      ++accepted;
      Finish f = future.get();
      EXPECT_TRUE(f.reason == FinishReason::kLength || f.reason == FinishReason::kCancelled);
      ++finished;
    }
  });
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(service_->LoadModel(ModelSpec{"churn", kStories}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_TRUE(service_->UnloadModel("churn").ok());
  }
  stop = true;
  client.join();
  EXPECT_EQ(accepted.load(), finished.load());
  EXPECT_GT(accepted.load(), 0);
}

}  // namespace
}  // namespace llmux::serving
