// The router of a mixture-of-experts FFN (qwen3moe, deepseek2): which experts a token goes
// to, and with what weights: a backend operation (Backend::RouteExperts), here on the host.
#pragma once

#include <cstdint>


namespace llmux {

// How a mixture-of-experts router turns its logits into picks and weights (llama.cpp's
// build_moe_ffn): softmax (qwen3moe) or sigmoid (DeepSeek-V3) scores; the picks use the
// scores plus an optional per-expert bias (exp_probs_b), limited to the n_group_used best of
// n_group groups (a group scores the sum of its two best); the weights are the unbiased
// scores of the picks, optionally renormalised to sum 1, times `scale`.
struct MoeRouting {
  enum class Gating { kSoftmax, kSigmoid };
  Gating gating = Gating::kSoftmax;
  bool normalize = true;
  float scale = 1.0f;
  int n_group = 0;  // 0 or 1: no groups
  int n_group_used = 0;
};

// Most expert groups RouteExperts takes (DeepSeek-V3 has 8).
inline constexpr int kMaxExpertGroups = 64;

// Routes one token as llama.cpp's build_moe_ffn does (see MoeRouting):
//   scores = softmax(logits) or sigmoid(logits); selection = scores + bias (bias may be null);
//   with groups, experts outside the n_group_used best groups (a group's score is the sum
//   of its two best selections) are excluded; the k best selections are picked (the lower
//   id first among equals), weighted by their unbiased scores, renormalised to sum 1 when
//   routing.normalize, times routing.scale.
// ids and weights get k entries, best first. scratch: 2 * n_expert floats.
void RouteExperts(const float* logits, const float* bias, int n_expert, int k,
                  const MoeRouting& routing, int32_t* ids, float* weights, float* scratch);

}  // namespace llmux
