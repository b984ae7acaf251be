// Byte-level BPE (GPT-2 style, tokenizer.ggml.model = gpt2): each byte of a pre-tokenized word
// starts as the symbol for its GPT-2 code point; the adjacent pair with the lowest merge rank
// is merged (leftmost first on ties) until no listed pair remains, as llama.cpp does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/flat_map.h"
#include "engine/tokenizer/vocab.h"

namespace llmux::tokenizer {

class BpeModel {
 public:
  // `vocab` must outlive the model. Merges come from vocab.merges().
  static Result<std::unique_ptr<BpeModel>> Create(const Vocab& vocab);

  // Reusable buffers for EncodeWord (one per thread / Encode call).
  struct Scratch {
    struct Symbol {
      int32_t sym;   // symbol id, or -1 for a byte nobody merges and no token covers
      int32_t prev;  // neighbours in the current segmentation, -1 at the ends
      int32_t next;
      uint8_t byte;  // the original byte (for the -1 case)
      bool alive;
    };
    struct Candidate {
      int32_t rank;
      int32_t left;  // symbol index
      int32_t left_sym;
      int32_t right_sym;
      int32_t result;  // symbol id after the merge
    };
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
    std::string encoded;
  };

  // Appends the token ids of one word, given as raw UTF-8 bytes.
  void EncodeWord(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const;

  size_t num_merges() const { return merges_.size(); }

 private:
  explicit BpeModel(const Vocab& vocab) : vocab_(vocab) {}
  // Symbol ids: token ids for token texts, ids from vocab.size() up for other texts that the
  // merges mention (so a merge works on texts exactly as llama.cpp's string-keyed ranks do).
  int32_t SymbolFor(std::string_view text, bool create);
  std::string_view SymbolText(int32_t sym) const;
  void TryAddCandidate(Scratch& s, int32_t left) const;
  void EmitSymbol(const Scratch::Symbol& symbol, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  PairMap merges_;   // (left symbol, right symbol) -> {rank, merged symbol}
  TextTable extra_;  // texts of symbols that are not tokens: symbol id = vocab size + index
  int32_t byte_sym_[256];
  std::string byte_text_[256];  // UTF-8 of each byte's GPT-2 code point
};

}  // namespace llmux::tokenizer
