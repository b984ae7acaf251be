// ConstraintVocab on Qwen3's vocabulary (the token trie and the plain-string sets against
// facts found from the tokenizer alone), and the sampler's constraint hook left unused.
#include "engine/runtime/constraint_vocab.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/token_bitset.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"
#include "tests/support/thread_cpu_time.h"

namespace llmux {
namespace {

// Milliseconds of this thread's CPU time.
double ThreadCpuMs() { return llmux::testing::ThreadCpuSeconds() * 1e3; }

class ConstraintVocabTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const double build_start = ThreadCpuMs();
    auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    auto tok = Tokenizer::FromGguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizer_ = std::move(tok).value().release();
    const double start = ThreadCpuMs();
    vocab_ = new std::shared_ptr<const ConstraintVocab>(ConstraintVocab::Build(*tokenizer_));
    std::printf(
        "Tokenizer::FromGguf %.1f ms, ConstraintVocab::Build on %d tokens: %.1f ms CPU, "
        "%zu trie nodes\n",
        start - build_start, tokenizer_->n_vocab(), ThreadCpuMs() - start,
        (*vocab_)->trie().nodes().size());

    // Facts about the vocabulary, found from the tokenizer alone.
    byte_token_.fill(-1);
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      const bool special = tokenizer_->IsSpecial(id);
      const bool eog = tokenizer_->IsEndOfGeneration(id);
      const std::string& piece = pieces_.emplace_back(tokenizer_->TokenToPiece(id));
      if (special && !eog) forbidden_specials_.push_back(id);
      if (eog) eog_ids_.push_back(id);
      if (!special && !eog && piece.size() == 1) {
        int32_t& slot = byte_token_[static_cast<uint8_t>(piece[0])];
        if (slot < 0) slot = id;
      }
    }
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete tokenizer_;
  }

  static std::shared_ptr<const ConstraintVocab> vocab() { return *vocab_; }

  static int32_t Id(std::string_view text) {
    const int32_t id = tokenizer_->FindToken(text);
    EXPECT_GE(id, 0) << text;
    return id;
  }

  static SamplerParams Random(uint32_t seed) {
    SamplerParams p = SamplerParams::Greedy();
    p.temperature = 1.0f;
    p.seed = seed;
    return p;
  }

  static inline Tokenizer* tokenizer_ = nullptr;
  static inline std::shared_ptr<const ConstraintVocab>* vocab_ = nullptr;
  static inline std::array<int32_t, 256> byte_token_;
  static inline std::vector<int32_t> forbidden_specials_;
  static inline std::vector<int32_t> eog_ids_;
  static inline std::vector<std::string> pieces_;  // TokenToPiece of every id
};

TEST_F(ConstraintVocabTest, VocabularyFacts) {
  // The test relies on these; they also pin down what the trie holds.
  EXPECT_EQ(tokenizer_->n_vocab(), 151936);
  EXPECT_FALSE(forbidden_specials_.empty());
  EXPECT_FALSE(eog_ids_.empty());
  for (int b = 0; b < 256; ++b) EXPECT_GE(byte_token_[b], 0) << b;
  EXPECT_TRUE(tokenizer_->IsSpecial(Id("<tool_call>")));
  EXPECT_EQ(vocab()->special_ids().size(), forbidden_specials_.size());
  // Every plain token is in the trie once; padding tokens (empty pieces) are not.
  size_t plain = 0;
  for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
    if (!tokenizer_->IsSpecial(id) && !tokenizer_->IsEndOfGeneration(id) && !pieces_[id].empty()) {
      ++plain;
    }
  }
  EXPECT_EQ(vocab()->trie().ranked_ids().size(), plain);
  EXPECT_LT(plain, 151936u - 200u);
}

// Code points of a piece that is whole, strictly valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF) and JSON string content as it is (no control byte, quote
// or backslash); -1 otherwise.
int PlainStringChars(const std::string& piece) {
  int chars = 0;
  for (size_t i = 0; i < piece.size(); ++chars) {
    const uint8_t b = static_cast<uint8_t>(piece[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == '"' || b == '\\') return -1;
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return -1;
    }
    if (i + len > piece.size()) return -1;
    for (int k = 1; k < len; ++k) {
      const uint8_t c = static_cast<uint8_t>(piece[i + k]);
      if ((c & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return -1;
    }
    i += len;
  }
  return chars;
}

// The plain-string sets (what a mask inside a JSON string takes without walking) hold exactly
// the tokens that are whole JSON-string content with at most that many characters, and the
// second trie holds every other plain token.
TEST_F(ConstraintVocabTest, PlainStringSetsHoldStringContentByCharacters) {
  std::vector<int> chars(tokenizer_->n_vocab(), -1);
  size_t plain = 0, in_strings = 0;
  for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
    if (tokenizer_->IsSpecial(id) || tokenizer_->IsEndOfGeneration(id) || pieces_[id].empty()) {
      continue;
    }
    ++plain;
    chars[id] = PlainStringChars(pieces_[id]);
    in_strings += chars[id] >= 0;
  }
  EXPECT_GT(in_strings, plain / 2);
  EXPECT_EQ(vocab()->plain_strings().size(), in_strings);
  EXPECT_EQ(vocab()->non_plain_trie().ranked_ids().size(), plain - in_strings);
  for (int32_t id : vocab()->non_plain_trie().ranked_ids()) ASSERT_LT(chars[id], 0) << id;
  TokenBitset set;
  for (uint32_t room : {0u, 1u, 2u, 3u, 7u, 15u, 16u, 17u, 31u, 200u, 0xFFFFFFFFu}) {
    const bool any = vocab()->plain_strings().Fill(room, set);
    size_t n = 0;
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      const bool expected = chars[id] >= 0 && static_cast<uint32_t>(chars[id]) <= room;
      ASSERT_EQ(set.Has(id), expected)
          << "room " << room << " token " << id << " '" << pieces_[id] << "'";
      n += expected;
    }
    EXPECT_EQ(any, n > 0) << room;
  }
}

TEST_F(ConstraintVocabTest, SamplerWithoutConstraintIsUnchanged) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  SamplerParams p = Random(17);
  p.top_k = 50;
  p.top_p = 0.9f;
  p.repeat_penalty = 1.1f;
  Sampler a(p), b(p);
  std::vector<float> la(5000), lb(5000);
  for (int i = 0; i < 200; ++i) {
    for (size_t k = 0; k < la.size(); ++k) la[k] = lb[k] = normal(rng);
    const int32_t x = a.Sample(la);
    const int32_t y = b.Sample(lb, nullptr);
    ASSERT_EQ(x, y);
    a.Accept(x);
    b.Accept(y);
  }
}

}  // namespace
}  // namespace llmux
