// Key/value cache of one sequence: F32, [layer][pos][kv_head * head_dim] for K and for V,
// sized once at creation. It also holds per-thread scratch for attention, so that a
// forward pass over this sequence never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/status.h"

namespace llmux {

class KvCache {
 public:
  // Allocates the cache; K/V memory is not touched until written, so a large n_ctx costs
  // address space only. Fails with ResourceExhausted if the allocation fails.
  static Result<std::unique_ptr<KvCache>> Create(int n_layer, int n_ctx, int kv_dim, int n_threads,
                                                 size_t scratch_floats);

  int n_layer() const { return n_layer_; }
  int n_ctx() const { return n_ctx_; }
  int kv_dim() const { return kv_dim_; }

  // Positions [0, n_past) hold valid entries.
  int n_past() const { return n_past_; }
  void set_n_past(int n) { n_past_ = n; }
  void Clear() { n_past_ = 0; }

  float* k(int layer, int pos) { return k_.get() + Offset(layer, pos); }
  float* v(int layer, int pos) { return v_.get() + Offset(layer, pos); }
  const float* k(int layer, int pos) const { return k_.get() + Offset(layer, pos); }
  const float* v(int layer, int pos) const { return v_.get() + Offset(layer, pos); }

  // Scratch of thread i (< n_threads()), scratch_floats() long.
  float* scratch(int i) { return scratch_.get() + static_cast<size_t>(i) * scratch_floats_; }
  int n_threads() const { return n_threads_; }
  size_t scratch_floats() const { return scratch_floats_; }

  size_t bytes() const;

 private:
  KvCache() = default;
  size_t Offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * kv_dim_;
  }

  int n_layer_ = 0;
  int n_ctx_ = 0;
  int kv_dim_ = 0;
  int n_past_ = 0;
  int n_threads_ = 0;
  size_t scratch_floats_ = 0;
  std::unique_ptr<float[]> k_;
  std::unique_ptr<float[]> v_;
  std::unique_ptr<float[]> scratch_;
};

}  // namespace llmux
