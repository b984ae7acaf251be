// SentencePiece-style BPE (tokenizer.ggml.model = llama), as llama.cpp runs it: the text
// (spaces already replaced by U+2581) starts as one symbol per UTF-8 character; the adjacent
// pair whose concatenation is the highest-scoring token is merged (leftmost first on ties)
// until no pair forms a token. Symbols that are not tokens fall back to <0xNN> byte tokens.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.h"

namespace llmux::tokenizer {

class SpmModel {
 public:
  explicit SpmModel(const Vocab& vocab);

  struct Scratch {
    struct Symbol {
      uint32_t start;  // byte offset in the text
      uint32_t size;   // 0 once merged into its left neighbour
      int32_t prev;
      int32_t next;
    };
    struct Candidate {
      float score;
      int32_t left;
      int32_t right;
      uint32_t size;  // bytes of the pair when queued
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
  };

  // Appends the ids for `text` (already escaped: ' ' -> U+2581).
  void Encode(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const;

  // The token for one raw byte: "<0xNN>", else the one-byte text, else unk; -1 if none.
  int32_t ByteToken(uint8_t byte) const { return byte_tokens_[byte]; }

 private:
  void TryAddCandidate(std::string_view text, Scratch& s, int32_t left, int32_t right) const;

  const Vocab& vocab_;
  int32_t byte_tokens_[256];
};

}  // namespace llmux::tokenizer
