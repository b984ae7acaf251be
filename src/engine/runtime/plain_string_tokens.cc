#include "engine/runtime/plain_string_tokens.h"

#include <algorithm>
#include <functional>

namespace llmux {

PlainStringTokens PlainStringTokens::Build(
    int32_t n_vocab, const std::vector<std::pair<int32_t, uint32_t>>& tokens) {
  PlainStringTokens p;
  p.count_ = tokens.size();
  p.up_to_.resize(kKeptSets + 1);
  p.counts_.assign(kKeptSets + 1, 0);
  for (TokenBitset& set : p.up_to_) set.Reset(n_vocab);
  for (const auto& [id, chars] : tokens) {
    for (uint32_t k = std::min(chars, kKeptSets); k <= kKeptSets; ++k) {
      p.up_to_[k].Set(id);
      ++p.counts_[k];
    }
    if (chars >= kKeptSets) p.longer_.emplace_back(chars, id);
  }
  std::sort(p.longer_.begin(), p.longer_.end(), std::greater<>());
  return p;
}

bool PlainStringTokens::Fill(uint32_t chars, TokenBitset& out) const {
  if (chars < kKeptSets) {
    out = up_to_[chars];
    return counts_[chars] > 0;
  }
  out = up_to_[kKeptSets];
  size_t taken_off = 0;
  for (const auto& [n, id] : longer_) {
    if (n <= chars) break;
    out.Clear(id);
    ++taken_off;
  }
  return count_ > taken_off;
}

}  // namespace llmux
