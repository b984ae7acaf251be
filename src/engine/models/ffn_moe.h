// The router of a mixture-of-experts FFN (qwen3moe, deepseek2): which experts a token goes
// to, and with what weights. The expert products themselves are DenseModel::FeedForwardMoe.
#pragma once

#include <cstdint>

#include "engine/models/model.h"

namespace llmux {

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
