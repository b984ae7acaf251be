// Cache-aware routing end to end: a gateway (RemoteInferenceService with the cache-aware route policy)
// over two real workers (LocalInferenceService on stories260K behind WorkerServer). Requests
// sharing a long system prompt go to the worker whose prefix cache holds it, until that worker
// is at the load threshold; the gateway's prompt tokens and block hashes equal the worker's.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <thread>
#include <unordered_set>

#include "engine/gguf/gguf_reader.h"
#include "serving/local_inference_service.h"
#include "serving/prompt_builder.h"
#include "serving/remote/prefix_index.h"
#include "serving/remote/remote_inference_service.h"
#include "tests/support/test_paths.h"
#include "worker/test_worker.h"
#include "worker/worker_server.h"

namespace llmux {
namespace {

using namespace serving;
using namespace std::chrono_literals;

// Finishes, and optionally holds the first delta (the gateway's call stays open, so the request
// stays outstanding on its worker) until released.
class HoldingSink : public Sink {
 public:
  explicit HoldingSink(bool hold) : hold_(hold) {}
  void OnDelta(const Delta&) override {
    std::unique_lock lock(mu_);
    if (hold_) cv_.wait_for(lock, 10s, [this] { return released_; });
  }
  void OnFinish(const Finish& f) override { done.set_value(f); }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::promise<Finish> done;

 private:
  const bool hold_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

using testing::TestWorker;

const std::string kSystem =
    "Lily and Ben were friends who lived in a small house near the big park. Every day they "
    "went to the park to play on the swings and the slide. One day they saw a little dog that "
    "was sad and alone. They gave the dog some food and water and the dog was happy. ";

// The system prompt, then a question long enough to fill blocks of its own (so the worker that
// computed it can be told by its last block).
CompletionRequest Shared(const std::string& question, int max_tokens = 4) {
  CompletionRequest r;
  r.model = "stories";
  r.prompt = kSystem + question + " " + question + " " + question + " " + question;
  r.options.sampling.temperature = 0.0f;
  r.options.max_tokens = max_tokens;
  return r;
}

std::unique_ptr<PromptBuilder> BuilderFromVocab(const LocalInferenceService& service, std::string& bytes) {
  auto vocab = service.VocabGguf("stories");
  EXPECT_TRUE(vocab.ok()) << vocab.status().ToString();
  bytes = std::move(*vocab);
  auto file = gguf::GgufFile::Parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  auto builder = PromptBuilder::FromGguf(**file);
  EXPECT_TRUE(builder.ok()) << builder.status().ToString();
  return std::move(*builder);
}

class CacheAwareRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoteInferenceOptions options;
    options.workers = {a_.address, b_.address};
    options.refresh_interval = 50ms;
    options.route_policy = RoutePolicy::kCacheAware;
    options.cache_aware.max_load = 1;
    remote_ = std::make_unique<RemoteInferenceService>(options);
    ASSERT_TRUE(remote_->Start().ok());
    // Both workers' first load reports (and the vocabulary, fetched in the same round) are in.
    for (int i = 0; i < 250 && remote_->MetricsText().find("llmux_gateway_model_workers{model=\"stories\"} 2") ==
                                   std::string::npos;
         ++i) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE(remote_->MetricsText().find("llmux_gateway_model_workers{model=\"stories\"} 2"), std::string::npos)
        << remote_->MetricsText();
    // The autoscaler's signals, summed over both workers' reports.
    const std::string metrics = remote_->MetricsText();
    EXPECT_NE(metrics.find("llmux_gateway_model_waiting{model=\"stories\"} 0"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("llmux_gateway_model_kv_used_ratio{model=\"stories\"}"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("llmux_gateway_model_kv_blocks_total{model=\"stories\"}"), std::string::npos) << metrics;
    std::string bytes;
    builder_ = BuilderFromVocab(*a_.service, bytes);
  }

  // Runs r through the gateway and says which worker's cache now holds its last full block.
  char RunAndLocate(CompletionRequest r) {
    const std::vector<uint64_t> blocks = PromptBlockHashes(builder_->Completion(r.prompt), a_.block_size());
    EXPECT_GE(blocks.size(), 4u);
    auto sink = std::make_shared<HoldingSink>(false);
    auto handle = remote_->Complete(std::move(r), sink);
    EXPECT_TRUE(handle.ok()) << handle.status().ToString();
    auto done = sink->done.get_future();
    EXPECT_EQ(done.wait_for(30s), std::future_status::ready);
    const bool in_a = a_.Cached().count(blocks.back()) > 0;
    const bool in_b = b_.Cached().count(blocks.back()) > 0;
    EXPECT_NE(in_a, in_b) << "exactly one worker should have computed the prompt";
    return in_a ? 'a' : 'b';
  }
  // Gives the gateway time for a load report round from every worker.
  static void AwaitReports() { std::this_thread::sleep_for(300ms); }

  TestWorker a_, b_;
  std::unique_ptr<RemoteInferenceService> remote_;
  std::unique_ptr<PromptBuilder> builder_;
};

TEST_F(CacheAwareRoutingTest, TheGatewaysPromptTokensAndHashesAreTheWorkers) {
  // The vocabulary-only GGUF gives the tokens the model file gives, for completions and chats.
  auto file = gguf::GgufFile::Open(testing::SharedPath("models/stories260K.gguf"));
  ASSERT_TRUE(file.ok());
  auto full = PromptBuilder::FromGguf(**file);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(builder_->Completion(kSystem), (*full)->Completion(kSystem));
  ChatRequest chat;
  chat.model = "stories";
  chat.messages = {{.role = "system", .content = kSystem}, {.role = "user", .content = "Hello"}};
  auto from_vocab = builder_->Chat(chat);
  auto from_file = (*full)->Chat(chat);
  ASSERT_EQ(from_vocab.ok(), from_file.ok());
  if (from_vocab.ok()) {
    EXPECT_EQ(*from_vocab, *from_file);
  }

  // The hashes the gateway computes are the ones the worker registers.
  CompletionRequest r = Shared("Where did they go?");
  const std::vector<uint64_t> blocks = PromptBlockHashes(builder_->Completion(r.prompt), a_.block_size());
  ASSERT_GE(blocks.size(), 4u);
  auto sink = std::make_shared<HoldingSink>(false);
  ASSERT_TRUE(a_.service->Complete(r, sink).ok());
  sink->done.get_future().wait();
  const auto cached = a_.Cached();
  for (uint64_t h : blocks) EXPECT_TRUE(cached.count(h)) << "block hash " << h;
}

TEST_F(CacheAwareRoutingTest, ASharedSystemPromptStaysOnItsWorkerUntilThatWorkerIsBusy) {
  const char holder = RunAndLocate(Shared("Where did they go?"));
  AwaitReports();
  // Whoever it was, the next requests with the same system prompt follow it (least outstanding
  // alone would split them at random: both workers are idle).
  for (const char* question : {"What did they see?", "Who was sad?", "What did they give?", "Was it happy?",
                               "Where was the house?"}) {
    EXPECT_EQ(RunAndLocate(Shared(question)), holder) << question;
    AwaitReports();  // the worker's reported queue is idle again (the threshold counts it too)
  }

  // The holder at the load threshold (max_load 1: one request outstanding from this gateway,
  // held open by its sink, which blocks one of gRPC's callback threads until released): the
  // other worker takes the next one.
  std::vector<std::shared_ptr<HoldingSink>> held;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (const char* question : {"Tell the whole story."}) {
    held.push_back(std::make_shared<HoldingSink>(true));
    CompletionRequest busy = Shared(question, 32);
    busy.options.ignore_eos = true;
    auto handle = remote_->Complete(busy, held.back());
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    handles.push_back(*handle);
  }
  const char other = holder == 'a' ? 'b' : 'a';
  EXPECT_EQ(RunAndLocate(Shared("Who went to the park?")), other);
  for (auto& h : held) h->Release();
  for (auto& h : held) h->done.get_future().wait_for(30s);
  // The held requests ran on the holder.
  const auto holder_cache = holder == 'a' ? a_.Cached() : b_.Cached();
  for (const char* question : {"Tell the whole story."}) {
    const auto blocks = PromptBlockHashes(builder_->Completion(Shared(question).prompt), a_.block_size());
    EXPECT_TRUE(holder_cache.count(blocks.back())) << question;
  }
  // Both hold the system prompt now; with neither busy, it stays with one of them.
  AwaitReports();
  const char next = RunAndLocate(Shared("What was the dog like?"));
  EXPECT_TRUE(next == 'a' || next == 'b');
}

}  // namespace
}  // namespace llmux
