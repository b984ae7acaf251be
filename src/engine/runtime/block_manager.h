// The paged KV cache's bookkeeping (no K/V data here: see models/kv_cache.h): fixed-size
// blocks with reference counts, per-sequence block tables, and the prefix cache.
//
// Every block is in exactly one state:
//   in use   ref_count > 0, in the tables of ref_count live sequences;
//   cached   ref_count == 0 but registered under the hash of its tokens: its K/V stays
//            valid for a later request with the same prefix, and it is evicted least
//            recently used first when a free block is needed;
//   free     ref_count == 0, not registered.
// A full block is registered under a hash chain: hash(previous block's chain value, this
// block's tokens); the block's tokens are kept too, so a hash collision is never taken as a match.
// Only full blocks are shared, and a sequence only writes positions past its shared
// prefix, so a shared block is never written.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/runtime/sequence.h"

namespace llmux {

// A change to the set of registered hashes (what the prefix cache can serve), for gateways
// that route by cache contents: a block registered under `hash`, or a registered one evicted.
struct BlockHashEvent {
  uint64_t hash = 0;
  bool added = false;  // registered; false: evicted
};

struct BlockManagerStats {
  int n_blocks = 0;
  int used = 0;    // ref_count > 0
  int cached = 0;  // ref_count == 0, registered (evictable)
  int free = 0;    // ref_count == 0, not registered
};

class BlockManager {
 public:
  BlockManager(int n_blocks, int block_size);

  int block_size() const { return block_size_; }
  int n_blocks() const { return static_cast<int>(blocks_.size()); }
  // Blocks that an allocation can take now (free plus cached).
  int n_available() const;
  BlockManagerStats stats() const;

  // For a sequence with an empty block table and n_computed == 0: takes the longest run of
  // cached full blocks matching seq.tokens from the start, leaving at least one token to
  // compute (so that the last one yields logits). Appends them to the block table and
  // block_hashes, sets n_computed to the tokens covered, and returns that count.
  int AcquirePrefix(Sequence& seq);

  // Grows seq's block table to cover positions [0, n_tokens). Returns false, changing
  // nothing, if that needs more blocks than are available.
  bool EnsureCapacity(Sequence& seq, int n_tokens);

  // Registers the blocks of seq that became full: every block i with (i + 1) * block_size
  // <= seq.n_computed beyond block_hashes.size(). If another block already holds the same
  // tokens, this one stays unregistered (it is freed when seq releases it).
  void CommitFullBlocks(Sequence& seq);

  // Drops seq's references (finished, cancelled or preempted): its table and hashes are
  // cleared and n_computed set to 0. Registered blocks whose count reaches 0 become cached
  // (most recently used), the others free.
  void Release(Sequence& seq);

  // Checks every invariant against the live sequences (those holding blocks): each
  // block's ref_count equals the number of their tables that hold it, and each block is in
  // exactly one state with its lists and hash index consistent. Debug aid for tests.
  Status Validate(std::span<const Sequence* const> live) const;

  // Hash events: off until enabled. Every registration and eviction is then appended to a
  // buffer of at most `max_pending` events (a vector push; nothing else on the hot path).
  void EnableHashEvents(size_t max_pending);
  // Moves the pending events into `out` (appended, in order). False when some were dropped
  // because the buffer was full since the last drain: the consumer must then start over from
  // RegisteredHashes().
  bool DrainHashEvents(std::vector<BlockHashEvent>& out);
  // Every hash registered now (in use or cached).
  std::vector<uint64_t> RegisteredHashes() const;

  // The chain value of a full block of tokens after `parent` (0 for the first block).
  static uint64_t HashBlock(uint64_t parent, std::span<const int32_t> tokens);

 private:
  struct Block {
    int ref_count = 0;
    bool registered = false;
    uint64_t hash = 0;
    std::vector<int32_t> tokens;                 // the block's tokens while registered
    std::list<int32_t>::iterator lru_position;  // valid while cached
  };

  int32_t TakeBlock();  // a free block, else the least recently used cached one; -1 if none
  void RecordHashEvent(uint64_t hash, bool added);

  int block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;                      // free blocks (stack)
  std::list<int32_t> lru_;                         // cached blocks, least recently used first
  std::unordered_map<uint64_t, int32_t> by_hash_;  // registered blocks
  size_t max_pending_events_ = 0;                  // 0: hash events off
  std::vector<BlockHashEvent> pending_events_;
  bool events_overflowed_ = false;
};

}  // namespace llmux
