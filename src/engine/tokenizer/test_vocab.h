// Helpers for building small vocabularies by hand in the tokenizer unit tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer::testing {

// Raw bytes -> their GPT-2 byte-level text (" a" -> "Ġa").
inline std::string G(std::string_view raw) {
  std::string out;
  for (unsigned char c : raw) AppendUtf8(ByteToGpt2Codepoint(c), out);
  return out;
}

// A byte-level BPE vocabulary: tokens and merges given as raw text (converted with G), all
// tokens normal unless listed in `types`.
inline VocabData BpeVocab(const std::vector<std::string>& raw_tokens,
                          const std::vector<std::pair<std::string, std::string>>& raw_merges,
                          std::string pre = "qwen2") {
  VocabData d;
  d.model = "gpt2";
  d.pre = std::move(pre);
  for (const auto& t : raw_tokens) d.tokens.push_back(G(t));
  for (const auto& [a, b] : raw_merges) d.merges.push_back(G(a) + " " + G(b));
  return d;
}

inline std::unique_ptr<Tokenizer> Build(VocabData data) {
  auto t = Tokenizer::FromVocab(std::move(data));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

using Ids = std::vector<int32_t>;

}  // namespace llmux::tokenizer::testing
