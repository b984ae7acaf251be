// The engine thread over the real stories260K model: same tokens as the single-sequence
// generator, FIFO order, cancellation within one step, limits and refusals.
#include "engine/runtime/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/generator.h"
#include "tests/support/test_paths.h"

namespace llmux {
namespace {

const std::string kStories = llmux::testing::SharedPath("models/stories260K.gguf");

struct Loaded {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded LoadStories() {
  Loaded l;
  auto file = gguf::GgufFile::Open(kStories);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  l.file = std::move(*file);
  auto tok = Tokenizer::FromGguf(*l.file);
  EXPECT_TRUE(tok.ok());
  l.tokenizer = std::move(*tok);
  return l;
}

std::unique_ptr<Model> LoadModel(const Loaded& l) {
  auto model = Model::Load(l.file, 1);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(*model);
}

struct Collected {
  std::vector<int32_t> ids;
  std::string text;
  std::vector<TokenOutput> outputs;
  std::promise<EngineFinish> done;
};

EngineCallbacks Collect(Collected& c) {
  EngineCallbacks cb;
  cb.on_token = [&c](const TokenOutput& t) {
    c.ids.push_back(t.id);
    c.text += t.text;
    c.outputs.push_back(t);
    return true;
  };
  cb.on_finish = [&c](const EngineFinish& f) { c.done.set_value(f); };
  return cb;
}

TEST(EngineTest, GreedyMatchesGenerator) {
  Loaded l = LoadStories();
  auto ref_model = LoadModel(l);
  Generator gen(*ref_model, *l.tokenizer);
  GenerateOptions opts;
  opts.max_tokens = 40;
  auto ref = gen.Generate("Once upon a time", SamplerParams::Greedy(), opts);
  ASSERT_TRUE(ref.ok());

  Engine engine(LoadModel(l), *l.tokenizer, EngineOptions{});
  Collected c;
  EngineRequest req;
  req.prompt = l.tokenizer->Encode("Once upon a time", true, true);
  req.sampling = SamplerParams::Greedy();
  req.max_tokens = 40;
  ASSERT_TRUE(engine.Submit(std::move(req), Collect(c)).ok());
  EngineFinish f = c.done.get_future().get();
  EXPECT_EQ(f.reason, EngineFinishReason::kMaxTokens);
  EXPECT_EQ(f.completion_tokens, 40);
  EXPECT_EQ(c.ids, ref->generated_ids);
  EXPECT_EQ(c.text, ref->text);
}

TEST(EngineTest, RequestsRunInOrderAndLogprobsAreNormalised) {
  Loaded l = LoadStories();
  Engine engine(LoadModel(l), *l.tokenizer, EngineOptions{});
  Collected a, b;
  std::vector<int> order;
  std::mutex mu;
  for (Collected* c : {&a, &b}) {
    EngineRequest req;
    req.prompt = l.tokenizer->Encode("Once upon a time", true, true);
    req.sampling = SamplerParams::Greedy();
    req.max_tokens = 8;
    req.top_logprobs = 3;
    EngineCallbacks cb = Collect(*c);
    cb.on_start = [&, c] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(c == &a ? 0 : 1);
    };
    ASSERT_TRUE(engine.Submit(std::move(req), std::move(cb)).ok());
  }
  a.done.get_future().get();
  b.done.get_future().get();
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  EXPECT_EQ(a.ids, b.ids);
  for (const TokenOutput& t : a.outputs) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_LE(t.logprob, 0.0f);
    // Greedy picks the most likely token, so it heads the top list.
    EXPECT_EQ(t.top[0].first, t.id);
    EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    EXPECT_GE(t.top[0].second, t.top[1].second);
    EXPECT_GE(t.top[1].second, t.top[2].second);
  }
}

TEST(EngineTest, CancelStopsWithinOneStep) {
  Loaded l = LoadStories();
  Engine engine(LoadModel(l), *l.tokenizer, EngineOptions{});
  std::shared_ptr<EngineTicket> ticket;
  std::promise<void> submitted;
  std::shared_future<void> ready = submitted.get_future().share();
  int tokens_after_cancel = -1;
  int seen = 0;
  std::promise<EngineFinish> done;
  EngineCallbacks cb;
  cb.on_token = [&](const TokenOutput&) {
    ready.wait();
    ++seen;
    if (seen == 5) ticket->Cancel();
    if (seen > 5) ++tokens_after_cancel;
    return true;
  };
  cb.on_finish = [&](const EngineFinish& f) { done.set_value(f); };
  EngineRequest req;
  req.prompt = l.tokenizer->Encode("Once upon a time", true, true);
  req.sampling = SamplerParams::Greedy();
  auto t = engine.Submit(std::move(req), std::move(cb));
  ASSERT_TRUE(t.ok());
  ticket = *t;
  submitted.set_value();
  EngineFinish f = done.get_future().get();
  EXPECT_EQ(f.reason, EngineFinishReason::kCancelled);
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(tokens_after_cancel, -1);
}

TEST(EngineTest, StopFromCallbackAndQueuedCancellation) {
  Loaded l = LoadStories();
  Engine engine(LoadModel(l), *l.tokenizer, EngineOptions{});
  std::promise<EngineFinish> first_done;
  EngineCallbacks cb;
  int n = 0;
  cb.on_token = [&](const TokenOutput&) { return ++n < 3; };
  cb.on_finish = [&](const EngineFinish& f) { first_done.set_value(f); };
  EngineRequest req;
  req.prompt = l.tokenizer->Encode("Once", true, true);
  req.sampling = SamplerParams::Greedy();
  ASSERT_TRUE(engine.Submit(std::move(req), std::move(cb)).ok());
  EngineFinish f = first_done.get_future().get();
  EXPECT_EQ(f.reason, EngineFinishReason::kStopped);
  EXPECT_EQ(f.completion_tokens, 3);
  EXPECT_TRUE(engine.WaitIdle(5000));
  EXPECT_EQ(engine.stats().running, 0);
  EXPECT_EQ(engine.stats().waiting, 0);
}

TEST(EngineTest, RefusesBadRequests) {
  Loaded l = LoadStories();
  EngineOptions options;
  options.n_ctx = 16;
  Engine engine(LoadModel(l), *l.tokenizer, options);
  EXPECT_EQ(engine.n_ctx(), 16);
  EngineRequest empty;
  EXPECT_EQ(engine.Submit(std::move(empty), {}).status().code(), StatusCode::kInvalidArgument);
  EngineRequest too_long;
  too_long.prompt.assign(17, 1);
  auto r = engine.Submit(std::move(too_long), {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("the prompt has 17 tokens; this model's context is 16 tokens"),
            std::string::npos) << r.status().message();
  EngineRequest bad_id;
  bad_id.prompt = {1, 999999};
  EXPECT_EQ(engine.Submit(std::move(bad_id), {}).status().code(), StatusCode::kInvalidArgument);
  engine.StopAccepting();
  EngineRequest later;
  later.prompt = {1};
  EXPECT_EQ(engine.Submit(std::move(later), {}).status().code(), StatusCode::kResourceExhausted);
}

// The later inputs of a call the engine already took (an embedding call's) get in past a full
// queue and while the engine drains; after an unload they are refused like any request.
TEST(EngineTest, ContinuationsOfAcceptedCallsPassAFullQueueAndADrainButNotAnUnload) {
  Loaded l = LoadStories();
  // Declared before the engine, which may still call into them when it is destroyed.
  Collected first, queued, past_full_queue, past_drain;
  std::promise<void> in_first_token;
  EngineOptions options;
  options.max_waiting = 1;
  Engine engine(LoadModel(l), *l.tokenizer, options);
  // The first request holds the engine thread in its first token, so the others stay queued.
  // Whatever fails below, the guard lets it go before the engine is destroyed.
  struct Gate {
    std::promise<void> open;
    std::shared_future<void> opened = open.get_future().share();
    bool is_open = false;
    void Open() {
      if (!std::exchange(is_open, true)) open.set_value();
    }
    ~Gate() { Open(); }
  } gate;
  auto request = [&](bool continues_accepted) {
    EngineRequest req;
    req.prompt = l.tokenizer->Encode("Once upon a time", true, true);
    req.sampling = SamplerParams::Greedy();
    req.max_tokens = 2;
    req.continues_accepted = continues_accepted;
    return req;
  };
  EngineCallbacks hold = Collect(first);
  hold.on_token = [&, once = std::make_shared<std::once_flag>()](const TokenOutput&) {
    std::call_once(*once, [&] {
      in_first_token.set_value();
      gate.opened.wait();
    });
    return true;
  };
  ASSERT_TRUE(engine.Submit(request(false), std::move(hold)).ok());
  in_first_token.get_future().wait();

  ASSERT_TRUE(engine.Submit(request(false), Collect(queued)).ok());
  EXPECT_EQ(engine.Submit(request(false), {}).status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(engine.Submit(request(true), Collect(past_full_queue)).ok());
  engine.StopAccepting(/*cancel_waiting=*/false);  // a drain, as in a hot update
  EXPECT_EQ(engine.Submit(request(false), {}).status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(engine.Submit(request(true), Collect(past_drain)).ok());
  gate.Open();
  for (Collected* c : {&first, &queued, &past_full_queue, &past_drain}) {
    EXPECT_EQ(c->done.get_future().get().reason, EngineFinishReason::kMaxTokens);
  }
  engine.StopAccepting(/*cancel_waiting=*/true);  // an unload
  EXPECT_EQ(engine.Submit(request(true), {}).status().code(), StatusCode::kResourceExhausted);
}

TEST(EngineTest, ContextFullEndsGeneration) {
  Loaded l = LoadStories();
  EngineOptions options;
  options.n_ctx = 12;
  Engine engine(LoadModel(l), *l.tokenizer, options);
  Collected c;
  EngineRequest req;
  req.prompt = l.tokenizer->Encode("Once upon a time", true, true);
  const int n_prompt = static_cast<int>(req.prompt.size());
  req.sampling = SamplerParams::Greedy();
  ASSERT_TRUE(engine.Submit(std::move(req), Collect(c)).ok());
  EngineFinish f = c.done.get_future().get();
  EXPECT_EQ(f.reason, EngineFinishReason::kContextFull);
  EXPECT_EQ(f.completion_tokens, 12 - n_prompt);
}

// A stream resumed on another engine from the tokens it already produced goes on exactly as
// the uninterrupted run: greedy, and seeded sampling with penalties (the sampler's random
// draws and penalty window are replayed too).
TEST(EngineTest, ResumedRequestContinuesAsTheUninterruptedRun) {
  Loaded l = LoadStories();
  Engine engine(LoadModel(l), *l.tokenizer, EngineOptions{});
  SamplerParams seeded;
  seeded.temperature = 0.9f;
  seeded.seed = 42;
  seeded.presence_penalty = 0.4f;
  for (const SamplerParams& sampling : {SamplerParams::Greedy(), seeded}) {
    auto make = [&] {
      EngineRequest req;
      req.prompt = l.tokenizer->Encode("Once upon a time, there was a", true, true);
      req.sampling = sampling;
      req.max_tokens = 48;
      return req;
    };
    Collected full;
    ASSERT_TRUE(engine.Submit(make(), Collect(full)).ok());
    const EngineFinish full_finish = full.done.get_future().get();
    ASSERT_EQ(full.ids.size(), 48u);
    for (int k : {1, 17, 47, 48}) {
      SCOPED_TRACE("temperature " + std::to_string(sampling.temperature) + ", resumed after " +
                   std::to_string(k));
      Collected resumed;
      EngineRequest req = make();
      req.resume.assign(full.ids.begin(), full.ids.begin() + k);
      ASSERT_TRUE(engine.Submit(std::move(req), Collect(resumed)).ok());
      const EngineFinish f = resumed.done.get_future().get();
      EXPECT_EQ(resumed.ids, full.ids);
      EXPECT_EQ(resumed.text, full.text);
      for (size_t i = 0; i < resumed.outputs.size(); ++i) {
        EXPECT_EQ(resumed.outputs[i].replayed, i < static_cast<size_t>(k)) << i;
      }
      EXPECT_EQ(f.reason, full_finish.reason);
      EXPECT_EQ(f.completion_tokens, 48);
      EXPECT_EQ(f.prompt_tokens, full_finish.prompt_tokens);
    }
  }
}

TEST(EngineTest, RefusesBadResumedTokens) {
  Loaded l = LoadStories();
  EngineOptions options;
  options.n_ctx = 16;
  Engine engine(LoadModel(l), *l.tokenizer, options);
  EngineRequest bad_id;
  bad_id.prompt = {1, 2};
  bad_id.resume = {3, -1};
  auto r = engine.Submit(std::move(bad_id), {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("resumed token id -1"), std::string::npos);
  EngineRequest too_long;
  too_long.prompt = {1, 2, 3, 4};
  too_long.resume.assign(13, 5);
  r = engine.Submit(std::move(too_long), {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // Exactly the context: the first engine ended there, so the replay ends it the same way.
  Collected c;
  EngineRequest full;
  full.prompt = {1, 2, 3, 4};
  full.resume.assign(12, 5);
  ASSERT_TRUE(engine.Submit(std::move(full), Collect(c)).ok());
  EngineFinish f = c.done.get_future().get();
  EXPECT_EQ(f.reason, EngineFinishReason::kContextFull);
  EXPECT_EQ(f.completion_tokens, 12);
}

TEST(EngineTest, PrefixCacheJournalHoldsThePromptsFullBlocks) {
  Loaded l = LoadStories();
  EngineOptions o;
  o.block_size = 4;
  Engine engine(LoadModel(l), *l.tokenizer, o);
  PrefixCacheUpdate empty = engine.PrefixCacheSince(0, 0, 1000);
  EXPECT_TRUE(empty.full);
  EXPECT_TRUE(empty.added.empty());

  std::vector<int32_t> prompt = l.tokenizer->Encode("Once upon a time there was a little girl", true, true);
  ASSERT_GE(prompt.size(), 9u);
  prompt.resize(9);  // two full blocks and one token
  Collected c;
  EngineRequest req;
  req.prompt = prompt;
  req.sampling = SamplerParams::Greedy();
  req.max_tokens = 1;
  ASSERT_TRUE(engine.Submit(std::move(req), Collect(c)).ok());
  c.done.get_future().get();
  ASSERT_TRUE(engine.WaitIdle(5000));

  const uint64_t h0 = BlockManager::HashBlock(0, std::span<const int32_t>(prompt.data(), 4));
  const uint64_t h1 = BlockManager::HashBlock(h0, std::span<const int32_t>(prompt.data() + 4, 4));
  PrefixCacheUpdate delta = engine.PrefixCacheSince(empty.epoch, empty.seq, 1000);
  EXPECT_FALSE(delta.full);
  EXPECT_EQ(delta.added, (std::vector<uint64_t>{h0, h1}));
  PrefixCacheUpdate full = engine.PrefixCacheSince(0, 0, 1000);
  EXPECT_TRUE(full.full);
  std::sort(full.added.begin(), full.added.end());
  std::vector<uint64_t> want = {h0, h1};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(full.added, want);
}

}  // namespace
}  // namespace llmux
