// SentencePiece BPE with byte fallback on hand-made vocabularies.
#include "engine/tokenizer/spm.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "engine/tokenizer/test_vocab.h"

namespace llmux::tokenizer {
namespace {

using testing::Build;
using testing::Ids;

constexpr int kByte0 = 3;           // <0x00> is id 3, as in llama2.c vocabularies
const char kSp[] = "\xe2\x96\x81";  // ▁

// <unk> <s> </s> <0x00>..<0xFF> then the given pieces (with scores).
VocabData SpmVocab(const std::vector<std::pair<std::string, float>>& pieces,
                   bool with_bytes = true) {
  VocabData d;
  d.model = "llama";
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.token_types = {2, 3, 3};
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
      d.tokens.push_back(hex);
      d.token_types.push_back(6);
    }
  }
  for (const auto& [text, score] : pieces) {
    d.tokens.push_back(text);
    d.token_types.push_back(1);
  }
  d.scores.assign(d.tokens.size(), 0.0f);
  for (size_t i = 0; i < pieces.size(); ++i)
    d.scores[d.tokens.size() - pieces.size() + i] = pieces[i].second;
  return d;
}

std::string S(const std::string& s) {  // ' ' -> ▁
  std::string out;
  for (char c : s) out += (c == ' ') ? std::string(kSp) : std::string(1, c);
  return out;
}

class SpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = Build(SpmVocab({{S(" "), -5},
                           {"a", -3},
                           {"b", -3},
                           {"c", -3},
                           {S(" a"), -1},
                           {"ab", -0.5f},
                           {S(" ab"), -2},
                           {"bc", -0.7f}}));
    ASSERT_NE(tok_, nullptr);
  }
  int32_t Id(const std::string& piece) const { return tok_->FindToken(S(piece)); }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(SpmTest, HighestScoreMergesFirstAndSpaceIsPrepended) {
  // "▁ab": "ab" (-0.5) beats "▁a" (-1); then "▁" + "ab" forms "▁ab".
  EXPECT_EQ(tok_->Encode("ab", false, false), (Ids{Id(" ab")}));
  // "▁abc": "ab" (-0.5) beats "bc" (-0.7), "▁ab" follows, "c" stays.
  EXPECT_EQ(tok_->Encode("abc", false, false), (Ids{Id(" ab"), Id("c")}));
  EXPECT_EQ(tok_->Encode("bc", false, false), (Ids{Id(" "), Id("bc")}));
}

TEST_F(SpmTest, BosAddedByDefault) {
  EXPECT_TRUE(tok_->add_bos());
  EXPECT_EQ(tok_->Encode("a", true, false), (Ids{1, Id(" a")}));
  EXPECT_EQ(tok_->Encode("", true, false), (Ids{1}));
  EXPECT_EQ(tok_->Encode("", false, false), Ids{});
}

TEST_F(SpmTest, ByteFallback) {
  // é is not a piece: its two UTF-8 bytes become <0xC3> <0xA9>.
  EXPECT_EQ(tok_->Encode("\xc3\xa9", false, false), (Ids{Id(" "), kByte0 + 0xC3, kByte0 + 0xA9}));
  EXPECT_EQ(tok_->Decode(Ids{kByte0 + 0xC3, kByte0 + 0xA9}), "\xc3\xa9");
  EXPECT_EQ(tok_->TokenToPiece(kByte0 + 0x0A), "\n");
}

TEST_F(SpmTest, TextAfterSpecialTokenGetsASpace) {
  EXPECT_EQ(tok_->Encode("a</s>b", false, true), (Ids{Id(" a"), 2, Id(" "), Id("b")}));
  // Without parse_special "</s>" is plain text; '<', '/', 's', '>' fall back to bytes.
  const Ids plain = tok_->Encode("</s>", false, false);
  EXPECT_EQ(plain, (Ids{Id(" "), kByte0 + '<', kByte0 + '/', kByte0 + 's', kByte0 + '>'}));
}

TEST_F(SpmTest, Decode) {
  EXPECT_EQ(tok_->TokenToPiece(Id(" ab")), " ab");
  // The first piece loses SentencePiece's space; a leading BOS is rendered and keeps it.
  EXPECT_EQ(tok_->Decode(Ids{Id(" ab"), Id(" a")}), "ab a");
  EXPECT_EQ(tok_->Decode(Ids{1, Id(" ab"), Id(" a")}), "<s> ab a");
  EXPECT_EQ(tok_->Decode(Ids{}), "");
}

TEST(SpmModelTest, EqualScoresMergeLeftmostAndNoSpacePrefix) {
  VocabData d = SpmVocab({{"a", -1}, {"aa", 0}});
  d.add_space_prefix = false;
  auto tok = Build(std::move(d));
  ASSERT_NE(tok, nullptr);
  const int32_t a = tok->FindToken("a"), aa = tok->FindToken("aa");
  EXPECT_EQ(tok->Encode("aaa", false, false), (Ids{aa, a}));
  EXPECT_EQ(tok->Decode(Ids{aa, a}), "aaa");
}

TEST(SpmModelTest, MissingByteTokensUseUnkOrNothing) {
  auto tok = Build(SpmVocab({{S(" "), 0}, {"a", 0}}, /*with_bytes=*/false));
  ASSERT_NE(tok, nullptr);
  // No <0xNN> pieces: llama.cpp would abort; we emit <unk> per byte.
  EXPECT_EQ(tok->Encode("a\xc3\xa9", false, false),
            (Ids{tok->FindToken(S(" ")), tok->FindToken("a"), 0, 0}));
}

}  // namespace
}  // namespace llmux::tokenizer
