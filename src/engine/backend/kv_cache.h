// Paged key/value cache: n_blocks blocks of block_size positions ("slots"), per layer, for
// K and for V, stored as F32, F16 or Q8_0 rows of kv_dim values. Slot s of a sequence's
// position p is block_table[p / block_size] * block_size + p % block_size; which blocks a
// sequence owns is the BlockManager's business (runtime/), not this class's.
//
// Layout: [layer][block][kv head][position in block][head_dim] for K and for V, so that
// attention, which works per kv head, reads each block of a head as one contiguous run
// (the single-sequence cache of NewCache(n_ctx) is one block covering the whole context,
// and attention reads its F32 rows in place).
//
// It also holds per-thread scratch for attention, so that a forward pass never allocates,
// and the position bookkeeping of the single-sequence use (Model::Forward).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/huge_pages.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/tensor/dtype.h"

namespace llmux {

struct KvCacheOptions {
  int n_layer = 0;
  int kv_dim = 0;
  int head_dim = 0;             // rows are read per kv head: kv_dim is a multiple of it
  DType type = DType::kF32;     // kF32, kF16 or kQ8_0 (Q8_0 needs head_dim % 32 == 0)
  int block_size = 16;          // positions per block
  int n_blocks = 0;
  int n_threads = 1;            // threads that get attention scratch
  size_t scratch_floats = 0;    // attention scratch per thread
  int max_seq_len = 0;          // the longest sequence that scratch was sized for
  // MLA's latent cache: K rows only. V is read from the K rows (their first value_dim
  // values), so v_head() returns K's memory and Store ignores v.
  bool k_only = false;
};

class KvCache {
 public:
  // Allocates the cache; K/V memory is not touched until written, so a large cache costs
  // address space only. Fails with InvalidArgument for a bad shape or type and with
  // ResourceExhausted if the allocation fails.
  static Result<std::unique_ptr<KvCache>> Create(const KvCacheOptions& options);

  // Bytes of K and V (K only when k_only) one block takes over all layers.
  static Result<size_t> BlockBytes(int n_layer, int kv_dim, DType type, int block_size,
                                   bool k_only);

  int n_layer() const { return o_.n_layer; }
  int kv_dim() const { return o_.kv_dim; }
  int head_dim() const { return o_.head_dim; }
  DType type() const { return o_.type; }
  int block_size() const { return o_.block_size; }
  int n_blocks() const { return o_.n_blocks; }
  int64_t n_slots() const { return static_cast<int64_t>(o_.n_blocks) * o_.block_size; }
  int n_head_kv() const { return o_.kv_dim / o_.head_dim; }
  size_t head_bytes() const { return head_bytes_; }  // one head_dim row of one position
  bool k_only() const { return o_.k_only; }

  // K (V) of kv head g at `slot`; the block's later positions of that head follow it.
  uint8_t* k_head(int layer, int64_t slot, int g) { return K() + Offset(layer, slot, g); }
  uint8_t* v_head(int layer, int64_t slot, int g) { return V() + Offset(layer, slot, g); }
  const uint8_t* k_head(int layer, int64_t slot, int g) const {
    return K() + Offset(layer, slot, g);
  }
  const uint8_t* v_head(int layer, int64_t slot, int g) const {
    return V() + Offset(layer, slot, g);
  }
  // Reads the whole K and V rows (kv_dim floats each) of a slot back as F32 (tests).
  void LoadRow(int layer, int64_t slot, float* k, float* v) const;

  // Writes n rows of kv_dim floats (row i at k + i * kv_dim) to the given slots, converted
  // to the cache's type. v is unused (may be null) with k_only.
  void Store(int layer, const float* k, const float* v, const int32_t* slots, int n,
             ThreadPool& pool);

  // Single-sequence use: the sequence fills slots [0, n_ctx()) in order.
  int n_ctx() const { return static_cast<int>(n_slots()); }
  int n_past() const { return n_past_; }  // positions [0, n_past) hold valid entries
  void set_n_past(int n) { n_past_ = n; }
  void Clear() { n_past_ = 0; }

  // Scratch of thread i (< n_threads()), scratch_floats() long.
  float* scratch(int i) { return scratch_.get() + static_cast<size_t>(i) * o_.scratch_floats; }
  int n_threads() const { return o_.n_threads; }
  size_t scratch_floats() const { return o_.scratch_floats; }
  int max_seq_len() const { return o_.max_seq_len; }

  size_t bytes() const;  // K and V of every block, plus scratch

 private:
  KvCache() = default;
  uint8_t* K() const { return static_cast<uint8_t*>(k_.data()); }
  uint8_t* V() const { return static_cast<uint8_t*>(o_.k_only ? k_.data() : v_.data()); }
  size_t Offset(int layer, int64_t slot, int g) const {
    const size_t bs = static_cast<size_t>(o_.block_size);
    const size_t block = static_cast<size_t>(slot) / bs;
    const size_t in_block = static_cast<size_t>(slot) % bs;
    const size_t per_block = bs * static_cast<size_t>(n_head_kv());
    return ((static_cast<size_t>(layer) * static_cast<size_t>(o_.n_blocks) + block) * per_block +
            static_cast<size_t>(g) * bs + in_block) *
           head_bytes_;
  }

  KvCacheOptions o_;
  size_t head_bytes_ = 0;
  int n_past_ = 0;
  // On huge pages: every decode step streams a sequence's K and V through attention.
  HugePageBuffer k_;
  HugePageBuffer v_;
  std::unique_ptr<float[]> scratch_;
};

}  // namespace llmux
