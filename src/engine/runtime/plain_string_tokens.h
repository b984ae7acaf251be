// The tokens whose whole piece is plain JSON-string content made of whole characters
// (constraint::StringSuffixesOk from the first byte: no quote, backslash or control byte, UTF-8
// from a character start; and constraint::EndsWithWholeChar), by character count. Inside a
// string with room for R more characters, such a token is allowed exactly when it has at most R
// characters, so a mask there starts from this set and walks only the other tokens
// (ConstraintVocab::non_plain_trie).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/runtime/token_bitset.h"

namespace llmux {

class PlainStringTokens {
 public:
  // tokens: (id, characters) of every plain-content token, over ids [0, n_vocab).
  static PlainStringTokens Build(int32_t n_vocab,
                                 const std::vector<std::pair<int32_t, uint32_t>>& tokens);

  // Sets `out` to the tokens of at most `chars` characters; false when there is none.
  bool Fill(uint32_t chars, TokenBitset& out) const;
  size_t size() const { return count_; }

 private:
  // Sets for fewer characters than this are kept whole; longer tokens are taken off the set of
  // all, most characters first.
  static constexpr uint32_t kKeptSets = 16;
  std::vector<TokenBitset> up_to_;  // [k]: at most k characters (k < kKeptSets), then all
  std::vector<size_t> counts_;      // tokens in up_to_[k]
  std::vector<std::pair<uint32_t, int32_t>> longer_;  // (characters, id), kKeptSets or more
  size_t count_ = 0;
};

}  // namespace llmux
