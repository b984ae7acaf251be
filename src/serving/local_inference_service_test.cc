// The in-process serving core over the real stories260K model: completions and chat
// through the plain template, stop sequences, cancellation, errors and load failures.
#include "serving/local_inference_service.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <future>

namespace llmux::serving {
namespace {

const char* kStories = LLMUX_SHARED_DIR "/models/stories260K.gguf";

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

TEST(ServiceLoadTest, CorruptModelIsRefusedWithTheReason) {
  const std::string path = testing::TempDir() + "/corrupt.gguf";
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

}  // namespace
}  // namespace llmux::serving
