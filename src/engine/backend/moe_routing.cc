#include "engine/backend/moe_routing.h"

#include <cmath>
#include <limits>

namespace llmux {

namespace {

// Index of the largest value among the first n with !taken(i), the lower index among equals.
template <typename Taken>
int ArgmaxExcept(const float* v, int n, Taken taken) {
  int best = -1;
  for (int i = 0; i < n; ++i) {
    if (!taken(i) && (best < 0 || v[i] > v[best])) best = i;
  }
  return best;
}

}  // namespace

void RouteExperts(const float* logits, const float* bias, int n_expert, int k,
                  const MoeRouting& routing, int32_t* ids, float* weights, float* scratch) {
  float* scores = scratch;
  float* select = scratch + n_expert;
  if (routing.gating == MoeRouting::Gating::kSoftmax) {
    float max = logits[0];
    for (int e = 1; e < n_expert; ++e) max = std::max(max, logits[e]);
    double sum = 0;
    for (int e = 0; e < n_expert; ++e) sum += std::exp(logits[e] - max);
    const float inv = static_cast<float>(1.0 / sum);
    for (int e = 0; e < n_expert; ++e) scores[e] = std::exp(logits[e] - max) * inv;
  } else {
    for (int e = 0; e < n_expert; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
  for (int e = 0; e < n_expert; ++e) select[e] = bias != nullptr ? scores[e] + bias[e] : scores[e];

  if (routing.n_group > 1) {
    // Group g holds experts [g * per, (g + 1) * per). Keep the n_group_used groups whose two
    // best selections sum highest; the others drop out of the picks.
    const int per = n_expert / routing.n_group;
    float group_score[kMaxExpertGroups];
    bool keep[kMaxExpertGroups] = {};
    const int n_group = std::min(routing.n_group, kMaxExpertGroups);
    for (int g = 0; g < n_group; ++g) {
      const float* s = select + g * per;
      const int a = ArgmaxExcept(s, per, [](int) { return false; });
      const int b = ArgmaxExcept(s, per, [&](int i) { return i == a; });
      group_score[g] = s[a] + s[b];
    }
    for (int j = 0; j < routing.n_group_used && j < n_group; ++j) {
      keep[ArgmaxExcept(group_score, n_group, [&](int g) { return keep[g]; })] = true;
    }
    for (int e = 0; e < n_expert; ++e) {
      if (!keep[e / per]) select[e] = -std::numeric_limits<float>::infinity();
    }
  }

  // k is small (2 to 8): selection by repeated scans.
  float picked_sum = 0;
  for (int j = 0; j < k; ++j) {
    ids[j] = ArgmaxExcept(select, n_expert, [&](int e) {
      for (int i = 0; i < j; ++i) {
        if (ids[i] == e) return true;
      }
      return false;
    });
    weights[j] = scores[ids[j]];
    picked_sum += weights[j];
  }
  if (routing.normalize) {
    // llama.cpp clamps the sum from below, so tiny sigmoid scores cannot blow up.
    const float sum = std::max(picked_sum, 6.103515625e-5f);
    for (int j = 0; j < k; ++j) weights[j] /= sum;
  }
  if (routing.scale != 1.0f) {
    for (int j = 0; j < k; ++j) weights[j] *= routing.scale;
  }
}

}  // namespace llmux
