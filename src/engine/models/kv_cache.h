// Key/value cache of one sequence: F32, [layer][pos][kv_head * head_dim] for K and for V,
// sized once at creation. It also holds the per-thread attention score rows (n_ctx floats
// each), so that a forward pass over this sequence never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/status.h"

namespace llmux {

class KvCache {
 public:
  // Allocates the cache; memory is not touched until written, so a large n_ctx costs
  // address space only. Fails with ResourceExhausted if the allocation fails.
  static Result<std::unique_ptr<KvCache>> Create(int n_layer, int n_ctx, int kv_dim,
                                                 int n_score_rows);

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

  // Scratch row i (of n_score_rows) with n_ctx floats, for attention scores.
  float* score_row(int i) { return scores_.get() + static_cast<size_t>(i) * n_ctx_; }
  int n_score_rows() const { return n_score_rows_; }

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
  int n_score_rows_ = 0;
  std::unique_ptr<float[]> k_;
  std::unique_ptr<float[]> v_;
  std::unique_ptr<float[]> scores_;
};

}  // namespace llmux
