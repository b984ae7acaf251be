// Continuous-batching policy: decides, step by step, which tokens of which sequences run
// through the model together. It only plans (and takes or releases blocks through the
// BlockManager); the engine runs the plan.
//
// Each step, under a budget of max_batch_tokens tokens:
//   1. every running sequence that is decoding gets its one token, in arrival order;
//   2. running sequences still in prefill get chunks of their remaining prompt;
//   3. waiting sequences are admitted first come, first served (the head of the queue
//      blocks the rest), while fewer than max_running run and their first chunk's blocks
//      are available; an admission first takes the longest cached prefix.
// When a running sequence needs a block and none is available, the most recently
// arrived running sequence is preempted: its blocks are released and it goes back to the
// front of the waiting queue, to be recomputed (its full blocks usually stay cached, so the
// recompute mostly hits the prefix cache); when it is itself the most recent, it is the one
// preempted. No admission happens in a step that preempted.
// A chunk never crosses the end of the prompt, and generated tokens run one per step, also
// when recomputed (Sequence::max_chunk): a preempted request gives the same tokens as an
// uninterrupted one.
#pragma once

#include <deque>
#include <vector>

#include "engine/runtime/block_manager.h"
#include "engine/runtime/sequence.h"

namespace llmux {

struct SchedulerOptions {
  int max_running = 16;        // sequences in the running set
  int max_batch_tokens = 512;  // tokens per step (decode tokens plus prefill chunks)
};

struct ScheduledChunk {
  Sequence* seq = nullptr;
  int n_tokens = 0;  // run tokens [seq->n_computed, seq->n_computed + n_tokens)
};

struct SchedulePlan {
  std::vector<ScheduledChunk> chunks;  // decodes first, then prefill chunks
  std::vector<Sequence*> admitted;     // moved from waiting to running this step
  std::vector<Sequence*> preempted;    // moved from running to the front of waiting
  // Running sequences that need another block while no other sequence holds any to give
  // up: they cannot go on. Removed from running with their blocks released; the engine
  // finishes them (as llama.cpp does when its KV cache is full).
  std::vector<Sequence*> out_of_memory;
  bool empty() const { return chunks.empty(); }
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // waiting: arrival order (a preempted sequence goes back to the front); running: arrival
  // order. Both are updated in place, as are the sequences' status, block tables and
  // n_computed (an admission's prefix hit). A sequence whose prompt alone needs more blocks
  // than the whole cache has can never run: it is left at the head of waiting and
  // reported by Unschedulable so that the engine can fail it.
  SchedulePlan Schedule(std::deque<Sequence*>& waiting, std::vector<Sequence*>& running,
                        BlockManager& blocks);

  // True if seq needs more blocks than the cache has in all, so it can never be admitted.
  static bool Unschedulable(const Sequence& seq, const BlockManager& blocks);

  const SchedulerOptions& options() const { return options_; }

 private:
  SchedulerOptions options_;
};

}  // namespace llmux
