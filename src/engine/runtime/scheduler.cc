#include "engine/runtime/scheduler.h"

#include <algorithm>
#include <unordered_set>

namespace llmux {
namespace {

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// One call of Schedule: the plan being built and the sequences already given a chunk.
class Step {
 public:
  Step(std::vector<Sequence*>& running, BlockManager& blocks, SchedulePlan& plan)
      : running_(running), blocks_(blocks), plan_(plan) {}

  bool scheduled(const Sequence* s) const { return scheduled_.count(s) != 0; }

  void Add(Sequence* s, int n) {
    plan_.chunks.push_back({s, n});
    scheduled_.insert(s);
  }

  // Makes room in s's table for n more tokens, preempting newer sequences while blocks are
  // short. Returns false if s itself had to leave running (preempted or out of memory).
  bool Reserve(Sequence* s, int n) {
    while (!blocks_.EnsureCapacity(*s, s->n_computed + n)) {
      if (Sequence* victim = NewestUnscheduledAfter(s)) {
        Preempt(victim);
        continue;
      }
      const bool others_hold_blocks =
          std::any_of(running_.begin(), running_.end(),
                      [s](const Sequence* r) { return r != s && !r->block_table.empty(); });
      const bool exceeds_cache =
          CeilDiv(s->n_computed + n, blocks_.block_size()) > blocks_.n_blocks();
      if (others_hold_blocks && !exceeds_cache) {
        Preempt(s);
      } else {
        blocks_.Release(*s);
        s->status = SequenceStatus::kFinished;
        Remove(s);
        plan_.out_of_memory.push_back(s);
      }
      return false;
    }
    return true;
  }

 private:
  // The most recently arrived running sequence, newer than s, without a chunk this step.
  Sequence* NewestUnscheduledAfter(const Sequence* s) const {
    for (auto it = running_.rbegin(); it != running_.rend() && *it != s; ++it) {
      if (!scheduled(*it)) return *it;
    }
    return nullptr;
  }

  void Preempt(Sequence* s) {
    blocks_.Release(*s);
    s->status = SequenceStatus::kWaiting;
    Remove(s);
    plan_.preempted.push_back(s);
  }

  void Remove(Sequence* s) { running_.erase(std::find(running_.begin(), running_.end(), s)); }

  std::vector<Sequence*>& running_;
  BlockManager& blocks_;
  SchedulePlan& plan_;
  std::unordered_set<const Sequence*> scheduled_;
};

}  // namespace

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  options_.max_running = std::max(options_.max_running, 1);
  options_.max_batch_tokens = std::max(options_.max_batch_tokens, 1);
}

bool Scheduler::Unschedulable(const Sequence& seq, const BlockManager& blocks) {
  return CeilDiv(seq.n_tokens(), blocks.block_size()) > blocks.n_blocks();
}

SchedulePlan Scheduler::Schedule(std::deque<Sequence*>& waiting, std::vector<Sequence*>& running,
                                 BlockManager& blocks) {
  SchedulePlan plan;
  Step step(running, blocks, plan);
  int budget = options_.max_batch_tokens;

  // 1. Decodes (one-token chunks: a new token, a recomputed generated token or the last
  //    prompt token), oldest first. A sequence that leaves running shifts the next one into i.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Sequence* s = running[i];
    if (s->max_chunk() != 1) {
      ++i;
      continue;
    }
    if (!step.Reserve(s, 1)) continue;
    step.Add(s, 1);
    --budget;
    ++i;
  }

  // 2. Prefill chunks of running sequences, oldest first.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Sequence* s = running[i];
    if (s->n_remaining() < 1 || step.scheduled(s)) {
      ++i;
      continue;
    }
    const int n = std::min(s->max_chunk(), budget);
    if (!step.Reserve(s, n)) continue;
    step.Add(s, n);
    budget -= n;
    ++i;
  }

  // 3. Admissions, first come first served; none in a step that preempted, since the
  //    blocks just given up are needed by the sequences already running.
  while (plan.preempted.empty() && !waiting.empty() && budget > 0 &&
         static_cast<int>(running.size()) < options_.max_running) {
    Sequence* s = waiting.front();
    if (s->n_tokens() == 0 || Unschedulable(*s, blocks)) break;
    const bool took_prefix = s->block_table.empty();
    if (took_prefix) blocks.AcquirePrefix(*s);
    const int n = std::min(s->max_chunk(), budget);
    if (n <= 0 || !blocks.EnsureCapacity(*s, s->n_computed + n)) {
      if (took_prefix) blocks.Release(*s);
      break;
    }
    waiting.pop_front();
    s->status = SequenceStatus::kRunning;
    s->admitted_once = true;
    // Keep running in arrival order: a recomputed sequence is older than later arrivals.
    running.insert(
        std::upper_bound(running.begin(), running.end(), s,
                         [](const Sequence* a, const Sequence* b) { return a->id < b->id; }),
        s);
    plan.admitted.push_back(s);
    step.Add(s, n);
    budget -= n;
  }

  // Preempted sequences go back to the front of waiting, in arrival order.
  std::vector<Sequence*> back = plan.preempted;
  std::sort(back.begin(), back.end(),
            [](const Sequence* a, const Sequence* b) { return a->id < b->id; });
  waiting.insert(waiting.begin(), back.begin(), back.end());
  return plan;
}

}  // namespace llmux
