// One sequence as the scheduler and the block manager see it: its tokens (prompt, then
// generated), how many of them have K/V in the paged cache, and its block table. The
// engine keeps the request's callbacks and sampler beside it; nothing here knows about them.
#pragma once

#include <cstdint>
#include <vector>

namespace llmux {

enum class SequenceStatus { kWaiting, kRunning, kFinished };

struct Sequence {
  int64_t id = 0;               // arrival order: smaller arrived earlier
  std::vector<int32_t> tokens;  // prompt followed by the tokens generated so far
  int n_prompt = 0;
  int n_computed = 0;   // tokens [0, n_computed) have K/V in the cache
  int cached_tokens = 0;  // tokens of the first admission served from the prefix cache
  bool admitted_once = false;
  bool reuse_prefix = true;  // false: AcquirePrefix matches nothing (the whole prompt runs)
  SequenceStatus status = SequenceStatus::kWaiting;

  // Block table: block_table[i] holds positions [i * block_size, (i + 1) * block_size).
  std::vector<int32_t> block_table;
  // Hash chain of the full blocks registered or matched so far (block_hashes[i] covers
  // tokens [0, (i + 1) * block_size)); its length is the number of such blocks.
  std::vector<uint64_t> block_hashes;

  int n_tokens() const { return static_cast<int>(tokens.size()); }
  // Tokens still to run through the model before the next token can be sampled.
  int n_remaining() const { return n_tokens() - n_computed; }
  // The most tokens the next chunk may hold: the rest of the prompt, or one generated token.
  // Generated tokens run one per step, as decode tokens, also when a preempted sequence
  // recomputes them: a decode token and a prompt token go through different kernels (see
  // kernels::MatMul), so only this gives their K/V the values of an uninterrupted run.
  int max_chunk() const {
    return n_computed < n_prompt ? n_prompt - n_computed : (n_remaining() > 0 ? 1 : 0);
  }
};

}  // namespace llmux
