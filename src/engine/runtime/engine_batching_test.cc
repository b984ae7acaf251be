// Continuous batching end to end on real models: concurrent greedy requests produce
// exactly what each produces alone, a shared prefix is served from the prefix cache with
// the same output, and random traffic with cancellations and preemptions leaves every KV
// block free with the block manager's invariants intact.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <random>
#include <span>
#include <string>
#include <thread>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/engine.h"
#include "tests/support/test_paths.h"

namespace llmux {
namespace {

struct Loaded {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded Load(const std::string& path) {
  Loaded l;
  auto file = gguf::GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  l.file = std::move(*file);
  auto tok = Tokenizer::FromGguf(*l.file);
  EXPECT_TRUE(tok.ok());
  l.tokenizer = std::move(*tok);
  return l;
}

std::unique_ptr<Model> NewModel(const Loaded& l, int threads = 2) {
  auto model = Model::Load(l.file, threads);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(*model);
}

struct Stream {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;  // with top_logprobs >= 0
  std::promise<EngineFinish> done;
  std::future<EngineFinish> future = done.get_future();
};

EngineRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
  EngineRequest r;
  r.prompt = std::move(prompt);
  r.sampling = SamplerParams::Greedy();
  r.max_tokens = max_tokens;
  r.ignore_eog = true;  // fixed lengths, so that requests overlap as planned
  return r;
}

// Log-probabilities of the same greedy tokens: a batch changes the summation order of the
// kernels (a decode batch and a single decode take different paths), so they agree closely,
// not bit for bit; a different token or a wrong K/V would move them far more.
void ExpectCloseLogprobs(const std::vector<float>& got, const std::vector<float>& want,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], want[k], 1e-3) << what << ", token " << k;
}

std::shared_ptr<EngineTicket> Submit(Engine& e, EngineRequest r, Stream& run) {
  EngineCallbacks cb;
  cb.on_token = [&run](const TokenOutput& t) {
    run.ids.push_back(t.id);
    run.logprobs.push_back(t.logprob);
    return true;
  };
  cb.on_finish = [&run](const EngineFinish& f) { run.done.set_value(f); };
  auto t = e.Submit(std::move(r), std::move(cb));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : nullptr;
}

const std::vector<std::string> kStoryPrompts = {
    "Once upon a time",
    "Lily and Ben went to the park to play with a big red ball.",
    "The cat",
    "One day, a little bird named Tweet flew over the tall green trees and saw a shiny",
    "Tom had a toy car. He liked to play with it every day.",
    "The sun was hot.",
    "Mom said, \"Do not touch the stove!\" But Tim was curious and wanted to see what",
    "There was a big dog",
    "Sue found a box in the garden. She opened it and saw",
    "A",
    "The little fish swam in the blue sea with his friends",
    "Max and his dad made a cake for mom. They put sugar, eggs and",
    "It was a rainy day and Anna could not go outside, so she",
    "Once there was a king who loved gold",
    "The bunny hopped",
    "Sam wanted to fly like a bird. He made wings out of paper and",
};

// What a set of requests produced, in request order, with the chosen tokens' log-probabilities:
// the numbers must agree too, not only the argmax (which a small difference in K/V rarely moves).
struct Outputs {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> logprobs;
  std::vector<EngineFinish> finishes;
};

// Submits the requests at once (each with top_logprobs = 0) and waits for them all.
Outputs RunTogether(Engine& engine, std::span<const EngineRequest> requests) {
  std::vector<std::unique_ptr<Stream>> runs;
  for (const EngineRequest& r : requests) {
    EngineRequest c = Greedy(r.prompt, r.max_tokens);
    c.top_logprobs = 0;
    runs.push_back(std::make_unique<Stream>());
    Submit(engine, std::move(c), *runs.back());
  }
  Outputs out;
  for (auto& run : runs) {
    out.finishes.push_back(run->future.get());
    out.ids.push_back(run->ids);
    out.logprobs.push_back(run->logprobs);
  }
  return out;
}

// Each request alone, on an engine that runs one sequence at a time: it neither batches nor
// preempts, so these are the reference outputs.
Outputs RunAlone(const Loaded& l, EngineOptions options, const std::vector<EngineRequest>& requests) {
  options.scheduler.max_running = 1;
  Engine engine(NewModel(l), *l.tokenizer, options);
  Outputs out;
  for (const EngineRequest& r : requests) {
    Outputs one = RunTogether(engine, std::span(&r, 1));
    out.ids.push_back(one.ids[0]);
    out.logprobs.push_back(one.logprobs[0]);
    out.finishes.push_back(one.finishes[0]);
  }
  EXPECT_EQ(engine.stats().preemptions, 0) << "the reference runs must not be preempted";
  return out;
}

// Every request ran to max_tokens with the ids of its run alone and close log-probabilities.
void ExpectSameAsAlone(const Outputs& got, const Outputs& alone) {
  ASSERT_EQ(got.ids.size(), alone.ids.size());
  for (size_t i = 0; i < got.ids.size(); ++i) {
    const std::string what = "request " + std::to_string(i) + ", preempted " +
                             std::to_string(got.finishes[i].preemptions) + " times";
    EXPECT_EQ(alone.finishes[i].reason, EngineFinishReason::kMaxTokens) << what;
    EXPECT_EQ(got.finishes[i].reason, EngineFinishReason::kMaxTokens) << what;
    EXPECT_EQ(got.ids[i], alone.ids[i]) << what << ": differs from its run alone";
    ExpectCloseLogprobs(got.logprobs[i], alone.logprobs[i], what);
  }
}

// 16 greedy requests of different prompts and lengths, all at once, each equal to its run
// alone. `options` picks the KV type and the step budget (a small budget splits prefills
// into chunks that share steps with other sequences' decodes).
void ExpectConcurrentEqualsAlone(const std::string& model_path, EngineOptions options) {
  Loaded l = Load(model_path);
  std::vector<EngineRequest> requests;
  for (size_t i = 0; i < kStoryPrompts.size(); ++i) {
    requests.push_back(Greedy(l.tokenizer->Encode(kStoryPrompts[i], true, true),
                              12 + static_cast<int>(i * 7 % 41)));
  }
  const Outputs alone = RunAlone(l, options, requests);
  options.validate_blocks = true;
  Engine engine(NewModel(l), *l.tokenizer, options);
  const Outputs together = RunTogether(engine, requests);
  ExpectSameAsAlone(together, alone);
  int total = 0;
  for (const EngineFinish& f : together.finishes) total += f.completion_tokens;
  ASSERT_TRUE(engine.WaitIdle(5000));
  const EngineStats s = engine.stats();
  EXPECT_TRUE(s.invariants.ok()) << s.invariants.ToString();
  EXPECT_EQ(s.kv.used, 0);
  // Batching happened: far fewer forward steps than tokens generated.
  EXPECT_LT(s.steps, total / 3) << "steps " << s.steps << " for " << total << " tokens";
}

const std::string kStories = llmux::testing::SharedPath("models/stories260K.gguf");
const std::string kQwenQ8 = llmux::testing::SharedPath("models/qwen3-mini-q8_0.gguf");
// Mixture of experts: each expert runs over the rows routed to it, so a row's experts see other
// sequences' rows beside it; its numbers must still be its own.
const std::string kQwenMoe = llmux::testing::SharedPath("models/qwen3moe-mini-q8_0.gguf");
// Latent attention (one compressed cache row per position, V inside it), grouped experts and a
// shared expert.
const std::string kDeepSeek = llmux::testing::SharedPath("models/deepseek3-mini-q8_0.gguf");

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneF16Kv) {
  ExpectConcurrentEqualsAlone(kStories, EngineOptions{});
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneSmallBudgetF32Kv) {
  EngineOptions o;
  o.kv_type = DType::kF32;
  o.scheduler.max_batch_tokens = 24;
  ExpectConcurrentEqualsAlone(kStories, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneQ8Weights) {
  EngineOptions o;
  o.n_ctx = 512;
  ExpectConcurrentEqualsAlone(kQwenQ8, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneQ8WeightsChunkedPrefill) {
  // A budget of 24 tokens splits prompts into chunks that share steps with other decodes.
  EngineOptions o;
  o.n_ctx = 512;
  o.scheduler.max_batch_tokens = 24;
  ExpectConcurrentEqualsAlone(kQwenQ8, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneMixtureOfExperts) {
  EngineOptions o;
  o.n_ctx = 512;
  ExpectConcurrentEqualsAlone(kQwenMoe, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneMixtureOfExpertsChunkedPrefill) {
  EngineOptions o;
  o.n_ctx = 512;
  o.scheduler.max_batch_tokens = 24;
  ExpectConcurrentEqualsAlone(kQwenMoe, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneLatentAttention) {
  EngineOptions o;
  o.n_ctx = 512;
  ExpectConcurrentEqualsAlone(kDeepSeek, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneLatentAttentionChunkedPrefillF32Kv) {
  EngineOptions o;
  o.n_ctx = 512;
  o.kv_type = DType::kF32;
  o.scheduler.max_batch_tokens = 24;
  ExpectConcurrentEqualsAlone(kDeepSeek, o);
}

TEST(EngineBatchingTest, SixteenConcurrentEqualAloneQ8Kv) {
  EngineOptions o;
  o.n_ctx = 512;
  o.kv_type = DType::kQ8_0;
  ExpectConcurrentEqualsAlone(kQwenQ8, o);
}

// Greedy requests that together outgrow a KV cache of one context: the scheduler preempts
// the newest running ones (their blocks are released and they are recomputed later, partly
// from the prefix cache). Every request must still produce exactly the ids of its run alone
// on an engine that runs one request at a time and so never preempts.
void ExpectPreemptedEqualsAlone(const std::string& model_path, EngineOptions options) {
  Loaded l = Load(model_path);
  // 128 positions: each request fits alone (prompt + up to 79 tokens), but 8 blocks of 16
  // cannot hold several at once, so sequences are preempted while they decode.
  options.n_ctx = 128;
  options.kv_cache_bytes = 1;  // clamped up to one full context
  std::vector<EngineRequest> requests;
  for (size_t i = 0; i < 8; ++i) {
    std::vector<int32_t> prompt = l.tokenizer->Encode(kStoryPrompts[i], true, true);
    requests.push_back(Greedy(std::move(prompt), 50 + static_cast<int>(i * 11 % 30)));
    ASSERT_LT(requests.back().prompt.size() + requests.back().max_tokens + 1, 128u);
  }
  const Outputs alone = RunAlone(l, options, requests);
  options.validate_blocks = true;
  Engine engine(NewModel(l), *l.tokenizer, options);
  const Outputs together = RunTogether(engine, requests);
  ExpectSameAsAlone(together, alone);
  int preempted_requests = 0;
  for (const EngineFinish& f : together.finishes) preempted_requests += f.preemptions > 0;
  ASSERT_TRUE(engine.WaitIdle(5000));
  const EngineStats s = engine.stats();
  EXPECT_TRUE(s.invariants.ok()) << s.invariants.ToString();
  EXPECT_EQ(s.kv.used, 0);
  // Preemption really happened, to several requests (a preempted sequence always has
  // generated tokens to recompute: prompts are admitted whole, and only decodes grow).
  EXPECT_GE(s.preemptions, 4);
  EXPECT_GE(preempted_requests, 3);
  ::testing::Test::RecordProperty("preemptions", static_cast<int>(s.preemptions));
}

TEST(EngineBatchingTest, PreemptedEqualAloneF16Kv) {
  ExpectPreemptedEqualsAlone(kStories, EngineOptions{});
}

TEST(EngineBatchingTest, PreemptedEqualAloneSmallBudgetF32Kv) {
  // A budget of 24 tokens also splits the recomputation into chunks.
  EngineOptions o;
  o.kv_type = DType::kF32;
  o.scheduler.max_batch_tokens = 24;
  ExpectPreemptedEqualsAlone(kStories, o);
}

TEST(EngineBatchingTest, PreemptedEqualAloneQ8WeightsF16Kv) {
  ExpectPreemptedEqualsAlone(kQwenQ8, EngineOptions{});
}

TEST(EngineBatchingTest, PreemptedEqualAloneQ8WeightsQ8Kv) {
  EngineOptions o;
  o.kv_type = DType::kQ8_0;
  ExpectPreemptedEqualsAlone(kQwenQ8, o);
}

TEST(EngineBatchingTest, SharedThousandTokenPrefixIsCachedWithSameOutput) {
  Loaded l = Load(kQwenQ8);
  std::mt19937 rng(11);
  std::vector<int32_t> prefix(1000);
  for (auto& t : prefix) t = static_cast<int32_t>(rng() % 20000) + 100;
  auto with_suffix = [&](std::vector<int32_t> suffix) {
    std::vector<int32_t> p = prefix;
    p.insert(p.end(), suffix.begin(), suffix.end());
    return p;
  };
  const std::vector<int32_t> first = with_suffix({501, 502, 503, 504, 505, 506, 507});
  const std::vector<int32_t> second = with_suffix({901, 902, 903, 904, 905});

  EngineOptions options;
  options.n_ctx = 2048;
  options.validate_blocks = true;
  // The second request alone, on an engine that has never seen the prefix.
  std::vector<int32_t> uncached_ids;
  {
    Engine engine(NewModel(l), *l.tokenizer, options);
    Stream run;
    Submit(engine, Greedy(second, 24), run);
    const EngineFinish f = run.future.get();
    EXPECT_EQ(f.cached_tokens, 0);
    uncached_ids = run.ids;
  }
  Engine engine(NewModel(l), *l.tokenizer, options);
  Stream a;
  Submit(engine, Greedy(first, 8), a);
  EXPECT_EQ(a.future.get().cached_tokens, 0);
  const auto t0 = std::chrono::steady_clock::now();
  Stream b;
  Submit(engine, Greedy(second, 24), b);
  const EngineFinish f = b.future.get();
  (void)t0;
  // Whole 16-token blocks of the shared 1,000 tokens: 992 of them.
  EXPECT_EQ(f.cached_tokens, 1000 / 16 * 16);
  EXPECT_EQ(f.prompt_tokens, 1005);
  EXPECT_EQ(b.ids, uncached_ids);
  EXPECT_EQ(engine.stats().prefix_hit_tokens, 992);
  EXPECT_TRUE(engine.stats().invariants.ok()) << engine.stats().invariants.ToString();
}

TEST(EngineBatchingTest, RandomTrafficLeavesEveryBlockFree) {
  Loaded l = Load(kStories);
  EngineOptions options;
  options.n_ctx = 256;
  options.scheduler.max_running = 8;
  options.scheduler.max_batch_tokens = 48;
  options.validate_blocks = true;
  options.kv_type = DType::kF32;
  // Room for about two full contexts: running sequences outgrow it and get preempted.
  options.kv_cache_bytes = 1;  // clamped up to one full context
  options.max_waiting = 1000;
  const int kRequests = 300;
  std::vector<std::unique_ptr<Stream>> runs;  // outlives the engine, whose callbacks use it
  Engine engine(NewModel(l, 1), *l.tokenizer, options);
  std::mt19937 rng(5);
  std::vector<std::shared_ptr<EngineTicket>> tickets;
  std::atomic<int> stopped_by_client{0};
  std::vector<int> stop_after(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    // Shared beginnings make prefix-cache hits; random tails and lengths make the rest.
    std::string text = kStoryPrompts[rng() % kStoryPrompts.size()];
    for (int w = static_cast<int>(rng() % 30); w > 0; --w) text += rng() % 2 ? " and" : " the dog";
    EngineRequest r = Greedy(l.tokenizer->Encode(text, true, true), 1 + static_cast<int>(rng() % 120));
    r.ignore_eog = rng() % 2 == 0;
    if (rng() % 3 == 0) r.sampling.temperature = 0.8f, r.sampling.seed = rng();
    // A third disconnect mid-stream (the callback says stop), a sixth are cancelled from outside.
    stop_after[i] = rng() % 3 == 0 ? 1 + static_cast<int>(rng() % 20) : -1;
    runs.push_back(std::make_unique<Stream>());
    Stream* run = runs.back().get();
    EngineCallbacks cb;
    const int limit = stop_after[i];
    cb.on_token = [run, limit, &stopped_by_client](const TokenOutput& t) {
      run->ids.push_back(t.id);
      if (limit > 0 && static_cast<int>(run->ids.size()) >= limit) {
        ++stopped_by_client;
        return false;
      }
      return true;
    };
    cb.on_finish = [run](const EngineFinish& f) { run->done.set_value(f); };
    auto t = engine.Submit(std::move(r), std::move(cb));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tickets.push_back(*t);
    if (rng() % 6 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      tickets[rng() % tickets.size()]->Cancel();
    }
    if (i % 25 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
  }
  int cancelled = 0;
  for (auto& run : runs) {
    const EngineFinish f = run->future.get();
    EXPECT_NE(f.reason, EngineFinishReason::kError) << f.error.ToString();
    cancelled += f.reason == EngineFinishReason::kCancelled;
  }
  ASSERT_TRUE(engine.WaitIdle(10000));
  const EngineStats s = engine.stats();
  EXPECT_TRUE(s.invariants.ok()) << s.invariants.ToString();
  EXPECT_EQ(s.kv.used, 0);
  EXPECT_EQ(s.kv.free + s.kv.cached, s.kv.n_blocks);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_GT(s.preemptions, 0) << "the cache was meant to run out";
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(stopped_by_client.load(), 0);
  EXPECT_GT(s.prefix_hit_tokens, 0);
}

}  // namespace
}  // namespace llmux
