#include "engine/backend/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llmux {

namespace {

// Pair index at which `n_rotations` full turns fit into the original context.
float YarnCorrDim(int n_rot, int n_ctx_orig, float n_rotations, float base) {
  return n_rot * std::log(n_ctx_orig / (n_rotations * 2 * std::numbers::pi_v<float>)) /
         (2 * std::log(base));
}

float YarnRamp(float low, float high, int i0) {
  const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

void YarnCorrDims(int n_rot, int n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                  float dims[2]) {
  const float start = std::floor(YarnCorrDim(n_rot, n_ctx_orig, beta_fast, freq_base));
  const float end = std::ceil(YarnCorrDim(n_rot, n_ctx_orig, beta_slow, freq_base));
  dims[0] = std::max(0.0f, start);
  dims[1] = std::min(static_cast<float>(n_rot - 1), end);
}

void RopeTable::Init(const RopeConfig& config, int max_tokens,
                     std::span<const float> freq_factors) {
  config_ = config;
  max_tokens_ = max_tokens;
  freq_factors_.assign(freq_factors.begin(), freq_factors.end());
  const size_t n = static_cast<size_t>(max_tokens) * (config.n_rot / 2);
  cos_.assign(n, 0.0f);
  sin_.assign(n, 0.0f);
  if (config.scaling == RopeScaling::kYarn) {
    YarnCorrDims(config.n_rot, config.n_ctx_orig, config.theta, config.yarn_beta_fast,
                 config.yarn_beta_slow, corr_dims_);
  }
}

void RopeTable::Compute(std::span<const int32_t> positions) {
  const int half = config_.n_rot / 2;
  const float theta_scale = std::pow(config_.theta, -2.0f / config_.n_rot);
  const bool scaled = config_.scaling != RopeScaling::kNone && config_.factor > 0.0f;
  const float freq_scale = scaled ? 1.0f / config_.factor : 1.0f;
  const bool yarn = config_.scaling == RopeScaling::kYarn;
  float mscale = config_.yarn_attn_factor;
  if (yarn) mscale *= 1.0f + 0.1f * std::log(1.0f / freq_scale);
  for (size_t t = 0; t < positions.size() && t < static_cast<size_t>(max_tokens_); ++t) {
    float* c = cos_.data() + t * half;
    float* s = sin_.data() + t * half;
    // ggml steps theta by repeated multiplication in float; do the same for equal rounding.
    float theta_base = static_cast<float>(positions[t]);
    for (int i = 0; i < half; ++i) {
      const float ff = freq_factors_.empty() ? 1.0f : freq_factors_[i];
      const float theta_extrap = theta_base / ff;
      float theta = freq_scale * theta_extrap;
      if (yarn) {
        const float mix = YarnRamp(corr_dims_[0], corr_dims_[1], 2 * i);
        theta = theta * (1.0f - mix) + theta_extrap * mix;
      }
      c[i] = std::cos(theta) * mscale;
      s[i] = std::sin(theta) * mscale;
      theta_base *= theta_scale;
    }
  }
}

void RopeTable::Apply(float* x, int first, int n_tokens, int n_heads, int head_dim,
                      int64_t row_stride, ThreadPool& pool) const {
  const int half = config_.n_rot / 2;
  pool.ParallelFor(n_tokens, 16, [&](int64_t t) {
    const float* c = cos_.data() + static_cast<size_t>(first + t) * half;
    const float* s = sin_.data() + static_cast<size_t>(first + t) * half;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + t * row_stride + static_cast<int64_t>(h) * head_dim;
      if (config_.layout == RopeLayout::kNormal) {
        for (int i = 0; i < half; ++i) {
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c[i] - x1 * s[i];
          v[2 * i + 1] = x0 * s[i] + x1 * c[i];
        }
      } else {
        for (int i = 0; i < half; ++i) {
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c[i] - x1 * s[i];
          v[i + half] = x0 * s[i] + x1 * c[i];
        }
      }
    }
  });
}

}  // namespace llmux
