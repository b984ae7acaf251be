#include "engine/models/ffn_moe.h"

#include <cmath>

namespace llmux {

void RouteSoftmaxTopK(const float* logits, int n_expert, int k, int32_t* ids, float* weights) {
  float max = logits[0];
  for (int e = 1; e < n_expert; ++e) max = std::max(max, logits[e]);
  double sum = 0;
  for (int e = 0; e < n_expert; ++e) sum += std::exp(logits[e] - max);
  const float inv = static_cast<float>(1.0 / sum);
  // k is small (2 to 8): selection by repeated scans keeps the lower id first among equals.
  float picked_sum = 0;
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < n_expert; ++e) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken = taken || ids[i] == e;
      if (!taken && (best < 0 || logits[e] > logits[best])) best = e;
    }
    ids[j] = best;
    weights[j] = std::exp(logits[best] - max) * inv;
    picked_sum += weights[j];
  }
  for (int j = 0; j < k; ++j) weights[j] /= picked_sum;
}

}  // namespace llmux
