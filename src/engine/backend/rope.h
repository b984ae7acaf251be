// Rotary position embedding, both layouts, with linear and YaRN frequency scaling and
// optional per-pair frequency factors, computed the way ggml's rope op does.
//
// A RopeTable holds cos/sin for every (token, pair) of a batch. It is filled once per
// forward call and then applied to every layer's q and k heads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/thread_pool.h"

namespace llmux {

enum class RopeLayout {
  kNormal,  // rotates adjacent pairs (x0,x1), (x2,x3), ... (llama.cpp LLAMA_ROPE_TYPE_NORM)
  kNeox,    // rotates halves (x_i, x_{i+n_rot/2}) (llama.cpp LLAMA_ROPE_TYPE_NEOX)
};

enum class RopeScaling { kNone, kLinear, kYarn };

struct RopeConfig {
  RopeLayout layout = RopeLayout::kNormal;
  int n_rot = 0;           // rotated dims per head (rope.dimension_count, default head_dim)
  float theta = 10000.0f;  // rope.freq_base
  RopeScaling scaling = RopeScaling::kNone;
  float factor = 1.0f;            // rope.scaling.factor (context extension factor)
  int n_ctx_orig = 0;             // rope.scaling.original_context_length (YaRN)
  float yarn_beta_fast = 32.0f;   // rope.scaling.yarn_beta_fast
  float yarn_beta_slow = 1.0f;    // rope.scaling.yarn_beta_slow
  float yarn_attn_factor = 1.0f;  // rope.scaling.yarn_attn_factor (extra magnitude scale)
};

class RopeTable {
 public:
  // Allocates room for max_tokens positions. freq_factors (n_rot/2 values) may be empty.
  void Init(const RopeConfig& config, int max_tokens, std::span<const float> freq_factors);

  // cos/sin for positions[i], i < positions.size() <= max_tokens.
  void Compute(std::span<const int32_t> positions);

  // Rotates the first n_rot dims of each head of tokens [first, first + n_tokens) of the
  // batch: token first + i is the row at x + i * row_stride, with n_heads heads of
  // head_dim floats. Tokens are split over the pool's threads.
  void Apply(float* x, int first, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
             ThreadPool& pool) const;

  int n_rot() const { return config_.n_rot; }

 private:
  RopeConfig config_;
  int max_tokens_ = 0;
  std::vector<float> freq_factors_;
  std::vector<float> cos_;  // [token][n_rot / 2]
  std::vector<float> sin_;
  float corr_dims_[2] = {0, 0};
};

// YaRN correction range [low, high] of pair indices, as ggml_rope_yarn_corr_dims computes it.
void YarnCorrDims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                  float dims[2]);

}  // namespace llmux
