#include "engine/runtime/block_manager.h"

#include <algorithm>
#include <string>

namespace llmux {
namespace {

// splitmix64's finalizer: a bijective 64-bit mix with full avalanche.
uint64_t Mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ULL;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

std::string BlockName(int32_t b) { return "block " + std::to_string(b); }

}  // namespace

BlockManager::BlockManager(int n_blocks, int block_size)
    : block_size_(std::max(block_size, 1)), blocks_(static_cast<size_t>(std::max(n_blocks, 0))) {
  // A stack popped from the back: block 0 is handed out first.
  free_.reserve(blocks_.size());
  for (int32_t b = static_cast<int32_t>(blocks_.size()) - 1; b >= 0; --b) free_.push_back(b);
}

int BlockManager::n_available() const { return static_cast<int>(free_.size() + lru_.size()); }

BlockManagerStats BlockManager::stats() const {
  BlockManagerStats s;
  s.n_blocks = n_blocks();
  s.cached = static_cast<int>(lru_.size());
  s.free = static_cast<int>(free_.size());
  s.used = s.n_blocks - s.cached - s.free;
  return s;
}

uint64_t BlockManager::HashBlock(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = Mix64(parent + kGolden);
  for (int32_t t : tokens) h = Mix64(h + kGolden + static_cast<uint32_t>(t));
  // The length is fixed per manager, but folding it in keeps blocks of different sizes apart.
  return Mix64(h ^ (static_cast<uint64_t>(tokens.size()) * kGolden));
}

void BlockManager::EnableHashEvents(size_t max_pending) {
  max_pending_events_ = std::max<size_t>(max_pending, 1);
  pending_events_.reserve(max_pending_events_);
  // Whatever was registered before is not in any event: the consumer starts from a snapshot.
  events_overflowed_ = !by_hash_.empty();
}

void BlockManager::RecordHashEvent(uint64_t hash, bool added) {
  if (max_pending_events_ == 0) return;
  if (pending_events_.size() >= max_pending_events_) {
    events_overflowed_ = true;
    return;
  }
  pending_events_.push_back({hash, added});
}

bool BlockManager::DrainHashEvents(std::vector<BlockHashEvent>& out) {
  const bool complete = !events_overflowed_;
  out.insert(out.end(), pending_events_.begin(), pending_events_.end());
  pending_events_.clear();
  events_overflowed_ = false;
  return complete;
}

std::vector<uint64_t> BlockManager::RegisteredHashes() const {
  std::vector<uint64_t> out;
  out.reserve(by_hash_.size());
  for (const auto& [h, b] : by_hash_) out.push_back(h);
  return out;
}

int BlockManager::AcquirePrefix(Sequence& seq) {
  if (!seq.block_table.empty() || seq.n_computed != 0 || !seq.reuse_prefix) return 0;
  const int bs = block_size_;
  // At least one token stays to compute so that the last one yields logits.
  const int max_blocks = seq.n_tokens() > 0 ? (seq.n_tokens() - 1) / bs : 0;
  uint64_t parent = 0;
  int matched = 0;
  for (int i = 0; i < max_blocks; ++i) {
    std::span<const int32_t> tokens(seq.tokens.data() + static_cast<size_t>(i) * bs, bs);
    const uint64_t h = HashBlock(parent, tokens);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    Block& block = blocks_[it->second];
    // The stored tokens guard against a hash collision.
    if (!std::equal(tokens.begin(), tokens.end(), block.tokens.begin(), block.tokens.end())) break;
    if (block.ref_count == 0) lru_.erase(block.lru_position);
    ++block.ref_count;
    seq.block_table.push_back(it->second);
    seq.block_hashes.push_back(h);
    parent = h;
    ++matched;
  }
  seq.n_computed = matched * bs;
  return seq.n_computed;
}

int32_t BlockManager::TakeBlock() {
  if (!free_.empty()) {
    const int32_t b = free_.back();
    free_.pop_back();
    return b;
  }
  if (lru_.empty()) return -1;
  const int32_t b = lru_.front();
  lru_.pop_front();
  Block& block = blocks_[b];
  by_hash_.erase(block.hash);
  RecordHashEvent(block.hash, false);
  block.registered = false;
  block.hash = 0;
  block.tokens.clear();
  return b;
}

bool BlockManager::EnsureCapacity(Sequence& seq, int n_tokens) {
  const int needed = (std::max(n_tokens, 0) + block_size_ - 1) / block_size_;
  const int missing = needed - static_cast<int>(seq.block_table.size());
  if (missing <= 0) return true;
  if (missing > n_available()) return false;
  for (int i = 0; i < missing; ++i) {
    const int32_t b = TakeBlock();
    blocks_[b].ref_count = 1;
    seq.block_table.push_back(b);
  }
  return true;
}

void BlockManager::CommitFullBlocks(Sequence& seq) {
  const int bs = block_size_;
  const int n_covered = std::clamp(seq.n_computed, 0, seq.n_tokens());
  const size_t n_full = std::min(static_cast<size_t>(n_covered / bs), seq.block_table.size());
  for (size_t i = seq.block_hashes.size(); i < n_full; ++i) {
    const uint64_t parent = i == 0 ? 0 : seq.block_hashes[i - 1];
    std::span<const int32_t> tokens(seq.tokens.data() + i * bs, bs);
    const uint64_t h = HashBlock(parent, tokens);
    const int32_t b = seq.block_table[i];
    Block& block = blocks_[b];
    if (!block.registered && by_hash_.find(h) == by_hash_.end()) {
      block.registered = true;
      block.hash = h;
      block.tokens.assign(tokens.begin(), tokens.end());
      by_hash_.emplace(h, b);
      RecordHashEvent(h, true);
    }
    // Registered or not, the chain goes on so that later blocks get their true hashes.
    seq.block_hashes.push_back(h);
  }
}

void BlockManager::Release(Sequence& seq) {
  // Back to front: the tail of a sequence lands least recently used, so eviction takes
  // tails before the prefixes that later blocks' chains depend on.
  for (auto it = seq.block_table.rbegin(); it != seq.block_table.rend(); ++it) {
    const int32_t b = *it;
    if (b < 0 || b >= n_blocks()) continue;
    Block& block = blocks_[b];
    if (block.ref_count <= 0) continue;  // a corrupt table; Validate reports it
    if (--block.ref_count > 0) continue;
    if (block.registered) {
      block.lru_position = lru_.insert(lru_.end(), b);
    } else {
      free_.push_back(b);
    }
  }
  seq.block_table.clear();
  seq.block_hashes.clear();
  seq.n_computed = 0;
}

Status BlockManager::Validate(std::span<const Sequence* const> live) const {
  const int n = n_blocks();
  const int bs = block_size_;
  std::vector<int> expected(n, 0);
  for (const Sequence* seq : live) {
    const std::string who = "sequence " + std::to_string(seq->id);
    std::vector<int32_t> sorted = seq->block_table;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return InternalError(who + " holds a block twice in its table");
    }
    for (int32_t b : seq->block_table) {
      if (b < 0 || b >= n) return InternalError(who + " holds out-of-range " + BlockName(b));
      ++expected[b];
    }
    if (seq->n_computed < 0 || seq->n_computed > seq->n_tokens()) {
      return InternalError(who + " has n_computed outside [0, n_tokens]");
    }
    if (static_cast<size_t>(seq->n_computed) > seq->block_table.size() * bs) {
      return InternalError(who + " has computed tokens beyond its block table");
    }
    if (seq->block_hashes.size() > seq->block_table.size() ||
        seq->block_hashes.size() * bs > static_cast<size_t>(seq->n_tokens())) {
      return InternalError(who + " has more block hashes than full blocks");
    }
    uint64_t parent = 0;
    for (size_t i = 0; i < seq->block_hashes.size(); ++i) {
      const uint64_t h =
          HashBlock(parent, std::span<const int32_t>(seq->tokens.data() + i * bs, bs));
      if (h != seq->block_hashes[i]) {
        return InternalError(who + " has a wrong hash chain at block " + std::to_string(i));
      }
      const Block& block = blocks_[seq->block_table[i]];
      if (block.registered && block.hash != h) {
        return InternalError(who + " shares " + BlockName(seq->block_table[i]) +
                             " registered under another hash");
      }
      parent = h;
    }
  }

  std::vector<char> in_free(n, 0), in_lru(n, 0);
  for (int32_t b : free_) {
    if (b < 0 || b >= n) return InternalError("free list holds out-of-range " + BlockName(b));
    if (in_free[b]++) return InternalError(BlockName(b) + " is twice in the free list");
  }
  for (int32_t b : lru_) {
    if (b < 0 || b >= n) return InternalError("LRU list holds out-of-range " + BlockName(b));
    if (in_lru[b]++) return InternalError(BlockName(b) + " is twice in the LRU list");
  }
  for (const auto& [h, b] : by_hash_) {
    if (b < 0 || b >= n) return InternalError("hash index holds out-of-range " + BlockName(b));
    if (!blocks_[b].registered || blocks_[b].hash != h) {
      return InternalError("hash index entry for " + BlockName(b) + " does not match the block");
    }
  }

  int n_registered = 0;
  for (int32_t b = 0; b < n; ++b) {
    const Block& block = blocks_[b];
    if (block.ref_count != expected[b]) {
      return InternalError(BlockName(b) + " has ref_count " + std::to_string(block.ref_count) +
                           " but is in " + std::to_string(expected[b]) + " live tables");
    }
    if (block.registered) {
      ++n_registered;
      auto it = by_hash_.find(block.hash);
      if (it == by_hash_.end() || it->second != b) {
        return InternalError(BlockName(b) + " is registered but missing from the hash index");
      }
      if (static_cast<int>(block.tokens.size()) != bs) {
        return InternalError(BlockName(b) + " is registered without its block of tokens");
      }
    } else if (!block.tokens.empty()) {
      return InternalError(BlockName(b) + " keeps tokens while unregistered");
    }
    const bool used = block.ref_count > 0;
    const bool cached = !used && block.registered;
    const bool free = !used && !block.registered;
    if (used && (in_free[b] || in_lru[b])) {
      return InternalError(BlockName(b) + " is in use but also in the free or LRU list");
    }
    if (cached && (!in_lru[b] || in_free[b])) {
      return InternalError(BlockName(b) + " is cached but not (only) in the LRU list");
    }
    if (free && (!in_free[b] || in_lru[b])) {
      return InternalError(BlockName(b) + " is free but not (only) in the free list");
    }
  }
  if (n_registered != static_cast<int>(by_hash_.size())) {
    return InternalError("hash index size differs from the registered blocks");
  }
  return Status::Ok();
}

}  // namespace llmux
