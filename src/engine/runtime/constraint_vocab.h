// The token table that constrained decoding works from, built once per tokenizer and shared
// (by shared_ptr) by every constraint made for that model.
//
// Plain tokens (not special, not end-of-generation, with a non-empty piece) sit in a byte trie
// (token_trie.h) that a mask walks; those that are plain JSON-string content are also kept as
// sets by character count (plain_string_tokens.h), with a second trie of the others.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/plain_string_tokens.h"
#include "engine/runtime/token_trie.h"

namespace llmux {

class Tokenizer;

class ConstraintVocab {
 public:
  static std::shared_ptr<const ConstraintVocab> Build(const Tokenizer& tokenizer);

  int32_t n_vocab() const { return n_vocab_; }
  // Every plain token.
  const TokenTrie& trie() const { return trie_; }
  // The plain tokens that are not in plain_strings(): the part of the vocabulary a mask still
  // walks inside a JSON string.
  const TokenTrie& non_plain_trie() const { return non_plain_trie_; }
  const PlainStringTokens& plain_strings() const { return plain_strings_; }

  // Special tokens (control, user-defined, unknown) that do not end generation and have a
  // non-empty piece: allowed only where their text is a literal the constraint asks for.
  const std::vector<int32_t>& special_ids() const { return special_ids_; }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  // The bytes token `id` decodes to ("" for an unknown id).
  std::string_view piece(int32_t id) const;
  bool is_special(int32_t id) const;  // in special_ids()
  bool is_eog(int32_t id) const;

 private:
  ConstraintVocab() = default;

  int32_t n_vocab_ = 0;
  std::string bytes_;              // all pieces, concatenated
  std::vector<uint32_t> offsets_;  // piece of id i: bytes_[offsets_[i], offsets_[i + 1])
  std::vector<uint8_t> kind_;      // per id: 0 plain, 1 special, 2 end of generation, 3 never
  TokenTrie trie_;
  TokenTrie non_plain_trie_;
  PlainStringTokens plain_strings_;
  std::vector<int32_t> special_ids_;
  std::vector<int32_t> eog_ids_;
};

}  // namespace llmux
