// Byte-level BPE pre-tokenizers: split text into the words that BPE then merges, exactly as
// llama.cpp does for each `tokenizer.ggml.pre` value we support. Nothing is normalized
// (no NFC), as in llama.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/regex_split.h"
#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {

// Qwen2 (max_digits 1) and Llama 3 (max_digits 3) share one regex:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// This is a hand-written, linear-time matcher for it. Appends the word lengths of
// cpts[begin, end) to `out`. `info` holds GetCharInfo of every code point.
void SplitGpt4Style(const std::vector<uint32_t>& cpts, const std::vector<CharInfo>& info,
                    size_t begin, size_t end, int max_digits, std::vector<size_t>& out);

class PreTokenizer {
 public:
  // `name` is the GGUF tokenizer.ggml.pre value ("qwen2", "llama-bpe", "deepseek-v3", ...).
  // Unknown names give Unimplemented.
  static Result<std::unique_ptr<PreTokenizer>> Create(std::string_view name);

  // Word lengths (in code points) of `cpts`; they sum to cpts.size().
  std::vector<size_t> Split(const std::vector<uint32_t>& cpts) const;

 private:
  struct Step {
    int gpt4_max_digits = 0;               // > 0: the hand-written Qwen2/Llama 3 matcher
    std::unique_ptr<RegexSplitter> regex;  // otherwise a regex
  };
  std::vector<Step> steps_;
};

}  // namespace llmux::tokenizer
