#include "engine/runtime/token_bitset.h"

#include <algorithm>
#include <limits>

namespace llmux {

void TokenBitset::Reset(int32_t n) {
  n_ = std::max(n, 0);
  words_.assign((static_cast<size_t>(n_) + 63) / 64, 0);
}

bool TokenBitset::Empty() const {
  for (uint64_t w : words_) {
    if (w) return false;
  }
  return true;
}

void TokenBitset::MaskLogits(std::span<float> logits) const {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t n = std::min(logits.size(), static_cast<size_t>(n_));
  float* l = logits.data();
  size_t i = 0;
  // A word of 64 ids all allowed or all refused takes one branch; the others go bit by bit
  // without branches.
  for (; i + 64 <= n; i += 64) {
    const uint64_t w = words_[i >> 6];
    if (w == ~uint64_t{0}) continue;
    if (w == 0) {
      std::fill(l + i, l + i + 64, kNegInf);
      continue;
    }
    for (int b = 0; b < 64; ++b) l[i + b] = (w >> b) & 1 ? l[i + b] : kNegInf;
  }
  for (; i < n; ++i) {
    if (!((words_[i >> 6] >> (i & 63)) & 1)) l[i] = kNegInf;
  }
  std::fill(l + n, l + logits.size(), kNegInf);
}

}  // namespace llmux
