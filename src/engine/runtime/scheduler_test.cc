#include "engine/runtime/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace llmux {
namespace {

constexpr int kBs = 4;

std::vector<int32_t> Range(int32_t first, int n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// The engine's side of the loop, without a model: sequences, queues, running a plan.
struct Harness {
  Harness(int n_blocks, SchedulerOptions options) : bm(n_blocks, kBs), sched(options) {}

  Sequence* New(std::vector<int32_t> tokens) {
    auto s = std::make_unique<Sequence>();
    s->id = next_id++;
    s->tokens = std::move(tokens);
    s->n_prompt = s->n_tokens();
    owned.push_back(std::move(s));
    return owned.back().get();
  }

  Sequence* Arrive(std::vector<int32_t> tokens) {
    Sequence* s = New(std::move(tokens));
    waiting.push_back(s);
    return s;
  }

  // A sequence already running: blocks for `capacity` positions, n_computed tokens done.
  Sequence* Place(std::vector<int32_t> tokens, int n_computed, int capacity) {
    Sequence* s = New(std::move(tokens));
    EXPECT_TRUE(bm.EnsureCapacity(*s, capacity));
    s->n_computed = n_computed;
    bm.CommitFullBlocks(*s);
    s->status = SequenceStatus::kRunning;
    s->admitted_once = true;
    running.push_back(s);
    return s;
  }

  SchedulePlan Step() { return sched.Schedule(waiting, running, bm); }

  // Runs the plan: each chunk's tokens get K/V; a sequence that reached its end samples
  // the next token; full blocks are committed.
  void Run(const SchedulePlan& plan) {
    for (const ScheduledChunk& c : plan.chunks) {
      c.seq->n_computed += c.n_tokens;
      if (c.seq->n_remaining() == 0) c.seq->tokens.push_back(1000 + c.seq->n_tokens());
      bm.CommitFullBlocks(*c.seq);
    }
  }

  void Finish(Sequence* s) {
    bm.Release(*s);
    s->status = SequenceStatus::kFinished;
    auto it = std::find(running.begin(), running.end(), s);
    if (it == running.end()) {
      ADD_FAILURE() << "sequence " << s->id << " is not running";
      return;
    }
    running.erase(it);
  }

  Status Validate() const {
    std::vector<const Sequence*> live;
    for (const auto& s : owned) live.push_back(s.get());
    return bm.Validate(live);
  }

  BlockManager bm;
  Scheduler sched;
  std::deque<Sequence*> waiting;
  std::vector<Sequence*> running;
  std::vector<std::unique_ptr<Sequence>> owned;
  int64_t next_id = 1;
};

std::vector<std::pair<int64_t, int>> Chunks(const SchedulePlan& plan) {
  std::vector<std::pair<int64_t, int>> v;
  for (const ScheduledChunk& c : plan.chunks) v.emplace_back(c.seq->id, c.n_tokens);
  return v;
}

std::vector<int64_t> Ids(const std::vector<Sequence*>& seqs) {
  std::vector<int64_t> v;
  for (const Sequence* s : seqs) v.push_back(s->id);
  return v;
}

std::vector<int64_t> Ids(const std::deque<Sequence*>& seqs) {
  return Ids(std::vector<Sequence*>(seqs.begin(), seqs.end()));
}

using ChunkList = std::vector<std::pair<int64_t, int>>;
using IdList = std::vector<int64_t>;

#define EXPECT_VALID(h)                      \
  do {                                       \
    Status _st = (h).Validate();             \
    EXPECT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

TEST(SchedulerTest, DecodesFirstThenPrefillChunksUnderTheBudget) {
  Harness h(64, {.max_running = 8, .max_batch_tokens = 10});
  Sequence* s1 = h.Place(Range(0, 6), 5, 6);     // decoding
  Sequence* s2 = h.Place(Range(100, 20), 4, 4);  // prefill, 16 to go
  Sequence* s3 = h.Place(Range(200, 3), 2, 3);   // decoding
  Sequence* w4 = h.Arrive(Range(300, 5));

  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {3, 1}, {2, 8}}));
  EXPECT_TRUE(p.admitted.empty());  // the budget is spent
  EXPECT_GE(static_cast<int>(s2->block_table.size()) * kBs, 12);
  EXPECT_VALID(h);
  h.Run(p);
  EXPECT_EQ(s2->n_computed, 12);

  p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {3, 1}, {2, 8}}));
  h.Run(p);
  EXPECT_EQ(s2->n_remaining(), 1);  // prefill done, first token sampled

  p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {2, 1}, {3, 1}, {4, 5}}));
  EXPECT_EQ(Ids(p.admitted), (IdList{4}));
  EXPECT_EQ(w4->status, SequenceStatus::kRunning);
  EXPECT_TRUE(w4->admitted_once);
  EXPECT_TRUE(h.waiting.empty());
  EXPECT_EQ(Ids(h.running), (IdList{1, 2, 3, 4}));
  EXPECT_VALID(h);
  (void)s1;
  (void)s3;
}

TEST(SchedulerTest, DecodesBeyondTheBudgetWaitOldestFirst) {
  Harness h(64, {.max_running = 8, .max_batch_tokens = 2});
  for (int i = 0; i < 3; ++i) h.Place(Range(10 * i, 3), 2, 3);
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {2, 1}}));
}

TEST(SchedulerTest, NothingToRunGivesAnEmptyPlan) {
  Harness h(16, {});
  Sequence* s = h.Place(Range(0, 4), 4, 4);  // all computed, next token not sampled yet
  SchedulePlan p = h.Step();
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(s->status, SequenceStatus::kRunning);
}

TEST(SchedulerTest, MaxRunningLimitsAdmission) {
  Harness h(64, {.max_running = 2, .max_batch_tokens = 100});
  Sequence* a = h.Arrive(Range(0, 4));
  h.Arrive(Range(10, 4));
  Sequence* c = h.Arrive(Range(20, 4));
  SchedulePlan p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{1, 2}));
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 4}, {2, 4}}));
  EXPECT_EQ(Ids(h.waiting), (IdList{3}));
  h.Run(p);

  p = h.Step();
  EXPECT_TRUE(p.admitted.empty());
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {2, 1}}));
  h.Run(p);
  h.Finish(a);
  p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{3}));
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 1}, {3, 4}}));
  EXPECT_EQ(c->status, SequenceStatus::kRunning);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, HeadOfTheQueueBlocksLaterArrivals) {
  Harness h(8, {.max_running = 8, .max_batch_tokens = 32});
  h.Place(Range(0, 20), 19, 20);            // 5 blocks, decoding
  Sequence* w2 = h.Arrive(Range(100, 20));  // needs 5 blocks, 3 available
  h.Arrive(Range(200, 3));                  // would fit, but arrived later
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}}));
  EXPECT_TRUE(p.admitted.empty());
  EXPECT_EQ(Ids(h.waiting), (IdList{2, 3}));
  EXPECT_TRUE(w2->block_table.empty());
  EXPECT_EQ(w2->n_computed, 0);
  EXPECT_EQ(w2->status, SequenceStatus::kWaiting);
  EXPECT_EQ(h.bm.stats().used, 5);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, AdmissionChunkIsLimitedByTheBudget) {
  Harness h(8, {.max_running = 8, .max_batch_tokens = 9});
  h.Place(Range(0, 20), 19, 20);            // 5 blocks, decoding
  Sequence* w2 = h.Arrive(Range(100, 20));  // first chunk: 8 tokens, 2 blocks
  h.Arrive(Range(200, 3));
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {2, 8}}));
  EXPECT_EQ(Ids(p.admitted), (IdList{2}));
  EXPECT_EQ(w2->block_table.size(), 2u);
  EXPECT_EQ(Ids(h.waiting), (IdList{3}));  // no budget left
  EXPECT_VALID(h);
}

TEST(SchedulerTest, PreemptsTheNewestAndRequeuesItAtTheFront) {
  Harness h(4, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* s1 = h.Place(Range(0, 9), 8, 8);    // 2 blocks, next decode needs a 3rd
  Sequence* s2 = h.Place(Range(100, 9), 8, 8);  // 2 blocks
  h.Arrive(Range(200, 2));
  ASSERT_EQ(h.bm.n_available(), 0);

  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}}));
  EXPECT_EQ(Ids(p.preempted), (IdList{2}));
  EXPECT_TRUE(p.admitted.empty());  // no admission in a step that preempted
  EXPECT_TRUE(p.out_of_memory.empty());
  EXPECT_EQ(Ids(h.running), (IdList{1}));
  EXPECT_EQ(Ids(h.waiting), (IdList{2, 3}));
  EXPECT_EQ(s2->status, SequenceStatus::kWaiting);
  EXPECT_TRUE(s2->block_table.empty());
  EXPECT_TRUE(s2->block_hashes.empty());
  EXPECT_EQ(s2->n_computed, 0);
  EXPECT_EQ(s1->block_table.size(), 3u);
  EXPECT_VALID(h);
  h.Run(p);

  // s1 finishes. s2 comes back first; its first block survived in the prefix cache (the
  // eviction for s1 took its tail), so only the rest is recomputed.
  h.Finish(s1);
  p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{2, 3}));
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 5}, {3, 2}}));
  EXPECT_EQ(s2->n_computed, 4);
  EXPECT_EQ(Ids(h.running), (IdList{2, 3}));
  EXPECT_VALID(h);
}

TEST(SchedulerTest, ARecomputedSequenceRunsItsGeneratedTokensOneAStep) {
  Harness h(16, {.max_running = 8, .max_batch_tokens = 100});
  // Preempted after generating 3 tokens: prompt 0..5, generated 900..902, nothing cached.
  Sequence* s = h.New(Range(0, 6));
  for (int32_t id : {900, 901, 902}) s->tokens.push_back(id);
  h.waiting.push_back(s);
  Sequence* t = h.Arrive(Range(100, 3));

  // The prompt is one chunk that stops at its end, as in the first run; then each generated
  // token is a decode of its own, first in the step like any decode.
  SchedulePlan p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{1, 2}));
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 6}, {2, 3}}));
  h.Run(p);
  EXPECT_EQ(s->n_tokens(), 9);  // nothing sampled: positions 6..8 are still to recompute
  for (int pos = 6; pos < 9; ++pos) {
    p = h.Step();
    EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}, {2, 1}})) << "position " << pos;
    h.Run(p);
  }
  EXPECT_EQ(s->n_computed, 9);
  EXPECT_EQ(s->n_tokens(), 10);  // the next token, sampled after the last recomputed one
  EXPECT_EQ(t->n_tokens(), 7);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, TheNewestPreemptsItselfWhenOlderOnesHoldTheBlocks) {
  Harness h(3, {.max_running = 8, .max_batch_tokens = 100});
  h.Place(Range(0, 5), 4, 8);                   // 2 blocks, room for its decode
  Sequence* s2 = h.Place(Range(100, 5), 4, 4);  // 1 block, needs a 2nd
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}}));
  EXPECT_EQ(Ids(p.preempted), (IdList{2}));
  EXPECT_TRUE(p.out_of_memory.empty());
  EXPECT_EQ(Ids(h.running), (IdList{1}));
  EXPECT_EQ(Ids(h.waiting), (IdList{2}));
  EXPECT_EQ(s2->status, SequenceStatus::kWaiting);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, SeveralPreemptedReturnInArrivalOrder) {
  Harness h(5, {.max_running = 8, .max_batch_tokens = 100});
  h.Place(Range(0, 9), 8, 8);    // needs a 3rd block
  h.Place(Range(100, 9), 8, 8);  // needs a 3rd block
  h.Place(Range(200, 2), 1, 2);  // 1 block, fine
  h.Arrive(Range(300, 2));
  SchedulePlan p = h.Step();
  // s1 takes s3's block; s2 then has nobody newer to preempt and goes itself.
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}}));
  EXPECT_EQ(Ids(p.preempted), (IdList{3, 2}));
  EXPECT_EQ(Ids(h.waiting), (IdList{2, 3, 4}));
  EXPECT_EQ(Ids(h.running), (IdList{1}));
  EXPECT_VALID(h);
}

TEST(SchedulerTest, DecodeMayPreemptANewerPrefill) {
  Harness h(3, {.max_running = 8, .max_batch_tokens = 100});
  h.Place(Range(0, 9), 8, 8);                    // decoding, needs a 3rd block
  Sequence* s2 = h.Place(Range(100, 10), 2, 4);  // prefill, 1 block
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 1}}));
  EXPECT_EQ(Ids(p.preempted), (IdList{2}));
  EXPECT_EQ(s2->status, SequenceStatus::kWaiting);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, PrefillNeverPreemptsADecodeAlreadyScheduled) {
  Harness h(3, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* s1 = h.Place(Range(0, 12), 4, 4);   // prefill, needs 3 blocks, has 1
  Sequence* s2 = h.Place(Range(100, 5), 4, 8);  // newer, decoding, 2 blocks
  const std::vector<int32_t> s2_table = s2->block_table;
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 1}}));
  EXPECT_EQ(Ids(p.preempted), (IdList{1}));
  EXPECT_EQ(s2->block_table, s2_table);
  EXPECT_EQ(s1->status, SequenceStatus::kWaiting);
  EXPECT_EQ(Ids(h.running), (IdList{2}));
  EXPECT_VALID(h);
}

TEST(SchedulerTest, ReadmissionKeepsRunningInArrivalOrder) {
  Harness h(16, {.max_running = 8, .max_batch_tokens = 100});
  h.Arrive(Range(0, 6));         // id 1, e.g. preempted earlier
  h.Place(Range(100, 5), 4, 8);  // id 2, running
  SchedulePlan p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{1}));
  EXPECT_EQ(Ids(h.running), (IdList{1, 2}));
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 1}, {1, 6}}));  // decodes still first
}

TEST(SchedulerTest, ALoneSequenceOutOfBlocksIsOutOfMemory) {
  Harness h(2, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* s1 = h.Place(Range(0, 9), 8, 8);  // all blocks, needs a 3rd
  h.Arrive(Range(100, 3));
  SchedulePlan p = h.Step();
  EXPECT_EQ(Ids(p.out_of_memory), (IdList{1}));
  EXPECT_TRUE(p.preempted.empty());
  EXPECT_EQ(s1->status, SequenceStatus::kFinished);
  EXPECT_TRUE(s1->block_table.empty());
  // Its blocks went back, so the waiting one is admitted in the same step.
  EXPECT_EQ(Ids(p.admitted), (IdList{2}));
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 3}}));
  EXPECT_EQ(Ids(h.running), (IdList{2}));
  EXPECT_VALID(h);
}

TEST(SchedulerTest, UnschedulableSequenceStaysAtTheHead) {
  Harness h(2, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* big = h.Arrive(Range(0, 9));  // 3 blocks > 2 in all
  h.Arrive(Range(100, 2));
  EXPECT_TRUE(Scheduler::Unschedulable(*big, h.bm));
  EXPECT_FALSE(Scheduler::Unschedulable(*h.waiting[1], h.bm));
  Sequence fits;
  fits.tokens = Range(0, 8);
  EXPECT_FALSE(Scheduler::Unschedulable(fits, h.bm));
  SchedulePlan p = h.Step();
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(Ids(h.waiting), (IdList{1, 2}));
  EXPECT_EQ(h.bm.stats().free, 2);
}

TEST(SchedulerTest, AdmissionWithAPrefixHitRunsOnlyTheRest) {
  Harness h(16, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* a = h.Arrive(Range(0, 12));
  SchedulePlan p = h.Step();
  EXPECT_EQ(Chunks(p), (ChunkList{{1, 12}}));
  h.Run(p);
  h.Finish(a);

  std::vector<int32_t> tokens = Range(0, 12);
  tokens.insert(tokens.end(), {50, 51, 52});
  Sequence* b = h.Arrive(tokens);
  Sequence* c = h.Arrive(Range(0, 12));  // all cached but the last block
  p = h.Step();
  EXPECT_EQ(Ids(p.admitted), (IdList{2, 3}));
  EXPECT_EQ(Chunks(p), (ChunkList{{2, 3}, {3, 4}}));
  EXPECT_EQ(b->n_computed, 12);
  EXPECT_EQ(c->n_computed, 8);
  EXPECT_EQ(b->cached_tokens, 0);  // the engine records it
  EXPECT_EQ(b->block_table[0], c->block_table[0]);
  EXPECT_VALID(h);
}

TEST(SchedulerTest, FailedAdmissionGivesThePrefixBack) {
  Harness h(4, {.max_running = 8, .max_batch_tokens = 100});
  Sequence* a = h.Arrive(Range(0, 8));
  SchedulePlan p = h.Step();
  h.Run(p);
  h.Finish(a);                   // two cached blocks
  h.Place(Range(500, 5), 4, 8);  // takes the two free blocks
  ASSERT_EQ(h.bm.stats().cached, 2);
  // Matches one cached block, then needs 4 more blocks for its 16 other tokens: refused.
  std::vector<int32_t> tokens = Range(0, 4);
  std::vector<int32_t> rest = Range(900, 16);
  tokens.insert(tokens.end(), rest.begin(), rest.end());
  Sequence* b = h.Arrive(tokens);
  p = h.Step();
  EXPECT_TRUE(p.admitted.empty());
  EXPECT_TRUE(b->block_table.empty());
  EXPECT_EQ(b->n_computed, 0);
  EXPECT_EQ(h.bm.stats().cached, 2);
  EXPECT_VALID(h);
}

// Random traffic through the scheduler, a fake model and a fake paged K/V store that
// records which token each cache slot holds: every computed position of every running
// sequence must hold its own token, so a wrong prefix match or a write into a shared block
// shows up.
TEST(SchedulerTest, RandomTrafficKeepsEveryInvariant) {
  constexpr int kBlocks = 40;
  const SchedulerOptions options{.max_running = 6, .max_batch_tokens = 20};
  Harness h(kBlocks, options);
  std::mt19937 rng(1234);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };

  std::vector<std::vector<int32_t>> kv(kBlocks, std::vector<int32_t>(kBs, -1));
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 3; ++i) prefixes.push_back(Range(1000 * (i + 1), 4 * uniform(2, 6)));
  std::vector<int> target_len(1, 0);  // by id

  int preemptions = 0, oom = 0, prefix_hits = 0, finished = 0, cancelled = 0, failed = 0;
  int steps_with_decode_and_prefill = 0;
  int replayed_tokens = 0;  // generated tokens recomputed after a preemption

  auto remove_running = [&](Sequence* s) {
    h.bm.Release(*s);
    s->status = SequenceStatus::kFinished;
    h.running.erase(std::find(h.running.begin(), h.running.end(), s));
  };

  auto check_kv = [&](const Sequence* s) {
    for (int pos = 0; pos < s->n_computed; ++pos) {
      const int32_t b = s->block_table[pos / kBs];
      ASSERT_EQ(kv[b][pos % kBs], s->tokens[pos]) << "sequence " << s->id << " position " << pos;
    }
  };

  auto one_step = [&](bool arrivals) {
    if (arrivals && chance(0.35)) {
      std::vector<int32_t> tokens;
      if (chance(0.7)) tokens = prefixes[uniform(0, 2)];
      const int extra = chance(0.02) ? kBlocks * kBs : uniform(1, 18);
      for (int i = 0; i < extra; ++i) tokens.push_back(uniform(0, 30));
      h.Arrive(tokens);
      target_len.push_back(static_cast<int>(tokens.size()) + uniform(1, 24));
    }
    // The engine fails what can never fit.
    while (!h.waiting.empty() && Scheduler::Unschedulable(*h.waiting.front(), h.bm)) {
      h.waiting.front()->status = SequenceStatus::kFinished;
      h.waiting.pop_front();
      ++failed;
    }

    const std::vector<Sequence*> waiting_before(h.waiting.begin(), h.waiting.end());
    const SchedulePlan p = h.Step();

    // The plan's shape.
    int total = 0;
    bool seen_prefill = false, seen_decode = false;
    std::set<const Sequence*> in_plan;
    std::set<const Sequence*> admitted(p.admitted.begin(), p.admitted.end());
    for (const ScheduledChunk& c : p.chunks) {
      ASSERT_GT(c.n_tokens, 0);
      ASSERT_LE(c.n_tokens, c.seq->n_remaining());
      // Never across the end of the prompt; generated tokens one at a time, recomputed or not.
      ASSERT_LE(c.n_tokens, c.seq->max_chunk());
      if (c.seq->n_computed >= c.seq->n_prompt && c.seq->n_remaining() > 1) ++replayed_tokens;
      ASSERT_TRUE(in_plan.insert(c.seq).second) << "sequence scheduled twice";
      ASSERT_EQ(c.seq->status, SequenceStatus::kRunning);
      ASSERT_NE(std::find(h.running.begin(), h.running.end(), c.seq), h.running.end());
      ASSERT_GE(static_cast<int>(c.seq->block_table.size()) * kBs, c.seq->n_computed + c.n_tokens);
      total += c.n_tokens;
      if (!admitted.count(c.seq)) {
        const bool decode = c.seq->max_chunk() == 1;
        if (decode) {
          ASSERT_FALSE(seen_prefill) << "a decode after a prefill chunk";
          seen_decode = true;
        } else {
          seen_prefill = true;
        }
      }
    }
    if (seen_decode && (seen_prefill || !admitted.empty())) ++steps_with_decode_and_prefill;
    ASSERT_LE(total, options.max_batch_tokens);
    ASSERT_LE(static_cast<int>(h.running.size()), options.max_running);
    ASSERT_TRUE(std::is_sorted(h.running.begin(), h.running.end(),
                               [](auto* a, auto* b) { return a->id < b->id; }));
    if (!p.preempted.empty()) {
      ASSERT_TRUE(p.admitted.empty());
      for (size_t i = 0; i < p.preempted.size(); ++i) {
        ASSERT_TRUE(std::find(h.waiting.begin(), h.waiting.begin() + p.preempted.size(),
                              p.preempted[i]) != h.waiting.begin() + p.preempted.size());
      }
    }
    for (Sequence* s : p.preempted) {
      ASSERT_EQ(s->status, SequenceStatus::kWaiting);
      ASSERT_TRUE(s->block_table.empty());
      ASSERT_EQ(s->n_computed, 0);
      ++preemptions;
    }
    for (Sequence* s : p.out_of_memory) {
      ASSERT_EQ(s->status, SequenceStatus::kFinished);
      ASSERT_TRUE(s->block_table.empty());
      ++oom;
    }
    // First come, first served: the admitted are the head of the queue, in order.
    ASSERT_LE(p.admitted.size(), waiting_before.size());
    ASSERT_TRUE(std::equal(p.admitted.begin(), p.admitted.end(), waiting_before.begin()));
    for (Sequence* s : p.admitted) {
      if (s->n_computed > 0) ++prefix_hits;
    }

    // Run the plan on the fake model: read the prefix, write the chunk.
    for (const ScheduledChunk& c : p.chunks) {
      check_kv(c.seq);
      for (int pos = c.seq->n_computed; pos < c.seq->n_computed + c.n_tokens; ++pos) {
        kv[c.seq->block_table[pos / kBs]][pos % kBs] = c.seq->tokens[pos];
      }
    }
    h.Run(p);
    for (const Sequence* s : h.running) check_kv(s);

    // Finishes and cancellations free blocks at once.
    for (size_t i = 0; i < h.running.size();) {
      Sequence* s = h.running[i];
      if (s->n_tokens() >= target_len[s->id]) {
        remove_running(s);
        ++finished;
      } else if (chance(0.01)) {
        remove_running(s);
        ++cancelled;
      } else {
        ++i;
      }
    }
    if (!h.waiting.empty() && chance(0.01)) {
      auto it = h.waiting.begin() + uniform(0, static_cast<int>(h.waiting.size()) - 1);
      (*it)->status = SequenceStatus::kFinished;
      h.waiting.erase(it);
      ++cancelled;
    }

    Status st = h.Validate();
    ASSERT_TRUE(st.ok()) << st.ToString();
    BlockManagerStats stats = h.bm.stats();
    ASSERT_EQ(stats.used + stats.cached + stats.free, kBlocks);
    std::set<int32_t> held;
    for (const Sequence* s : h.running) held.insert(s->block_table.begin(), s->block_table.end());
    ASSERT_EQ(static_cast<int>(held.size()), stats.used);
  };

  for (int step = 0; step < 4000; ++step) {
    one_step(true);
    if (HasFatalFailure()) return;
  }
  // Drain: with no new arrivals everything finishes.
  for (int step = 0; step < 5000 && (!h.waiting.empty() || !h.running.empty()); ++step) {
    one_step(false);
    if (HasFatalFailure()) return;
  }
  EXPECT_TRUE(h.waiting.empty());
  EXPECT_TRUE(h.running.empty());
  for (Sequence* s : std::vector<Sequence*>(h.running)) remove_running(s);

  EXPECT_VALID(h);
  BlockManagerStats stats = h.bm.stats();
  EXPECT_EQ(stats.used, 0);
  EXPECT_EQ(stats.free + stats.cached, kBlocks);
  EXPECT_EQ(h.bm.n_available(), kBlocks);
  // The run exercised what it is meant to.
  EXPECT_GT(preemptions, 10);
  EXPECT_GT(prefix_hits, 50);
  EXPECT_GT(finished, 300);
  EXPECT_GT(cancelled, 10);
  EXPECT_GT(failed, 0);  // prompts over the whole cache
  EXPECT_GT(oom, 0);     // a 160-token prompt fills all 40 blocks, its first output needs a 41st
  EXPECT_GT(steps_with_decode_and_prefill, 100);
  EXPECT_GT(replayed_tokens, 10);
  RecordProperty("preemptions", preemptions);
  RecordProperty("out_of_memory", oom);
  RecordProperty("prefix_hits", prefix_hits);
}

}  // namespace
}  // namespace llmux
