// Byte-level BPE merging on hand-made vocabularies.
#include "engine/tokenizer/bpe.h"

#include <gtest/gtest.h>

#include "engine/tokenizer/test_vocab.h"

namespace llmux::tokenizer {
namespace {

using testing::BpeVocab;
using testing::Build;
using testing::G;
using testing::Ids;

// Ids by position in this list.
const std::vector<std::string> kTokens = {"a",  "b",   "c", "ab", "bc", "abc", " ",
                                          " a", " ab", "x", "y",  "z",  "xyz"};
enum { A, B, C, AB, BC, ABC, SP, SP_A, SP_AB, X, Y, Z, XYZ };

Ids Encode(const std::vector<std::pair<std::string, std::string>>& merges, std::string_view text,
           std::string pre = "qwen2") {
  auto tok = Build(BpeVocab(kTokens, merges, std::move(pre)));
  return tok ? tok->Encode(text, false, false) : Ids{-99};
}

TEST(BpeTest, LowestRankMergesFirst) {
  EXPECT_EQ(Encode({{"b", "c"}, {"a", "b"}}, "abc"), (Ids{A, BC}));  // "bc" outranks "ab"
  EXPECT_EQ(Encode({{"a", "b"}, {"b", "c"}}, "abc"), (Ids{AB, C}));
  EXPECT_EQ(Encode({{"b", "c"}, {"a", "b"}, {"a", "bc"}}, "abc"), (Ids{ABC}));
  EXPECT_EQ(Encode({{"a", "b"}, {"b", "c"}, {"ab", "c"}}, "abc"), (Ids{ABC}));
  // "a bc" exists but "b c" never happens first, so it cannot apply.
  EXPECT_EQ(Encode({{"a", "b"}, {"a", "bc"}, {"b", "c"}}, "abc"), (Ids{AB, C}));
  EXPECT_EQ(Encode({}, "abc"), (Ids{A, B, C}));
}

TEST(BpeTest, EqualPairsMergeLeftmostFirst) {
  auto tok = Build(BpeVocab({"a", "aa", "aaa"}, {{"a", "a"}}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("aaa", false, false), (Ids{1, 0}));
  EXPECT_EQ(tok->Encode("aaaaa", false, false), (Ids{1, 1, 0}));
}

TEST(BpeTest, DuplicateMergeKeepsFirstRank) {
  // The repeated "b c" at the end does not lower its rank below "a b".
  EXPECT_EQ(Encode({{"a", "b"}, {"b", "c"}, {"b", "c"}}, "abc"), (Ids{AB, C}));
}

TEST(BpeTest, SpacesAreByteEncoded) {
  EXPECT_EQ(Encode({{" ", "a"}, {" a", "b"}}, "ab ab"), (Ids{A, B, SP_AB}));
  EXPECT_EQ(Encode({{" ", "a"}}, " a"), (Ids{SP_A}));
}

TEST(BpeTest, MergeResultNeedNotBeAToken) {
  // "xy" is not a token but the merges build "xyz" through it.
  EXPECT_EQ(Encode({{"x", "y"}, {"xy", "z"}}, "xyz"), (Ids{XYZ}));
  // Left as "xy", the symbol falls back to the tokens of its single bytes.
  EXPECT_EQ(Encode({{"x", "y"}, {"xy", "z"}}, "xy"), (Ids{X, Y}));
}

TEST(BpeTest, BytesWithoutTokensAreDropped) {
  // As in llama.cpp: a character the vocabulary cannot spell is skipped.
  EXPECT_EQ(Encode({}, "aqb"), (Ids{A, B}));
  EXPECT_EQ(Encode({},
                   "a\x01"
                   "b"),
            (Ids{A, B}));
  EXPECT_EQ(Encode({}, "\xc3\xa9"), Ids{});
}

TEST(BpeTest, WordsDoNotMergeAcrossPreTokenizerBoundaries) {
  // "b" + " " would merge to "b " if the pre-tokenizer did not split "ab ab" into "ab", " ab".
  auto tok = Build(BpeVocab({"a", "b", " ", "b ", "ab", " a", " ab"},
                            {{"b", " "}, {" ", "a"}, {"a", "b"}, {" a", "b"}}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("ab ab", false, false), (Ids{4, 6}));
}

TEST(BpeTest, Llama3UsesWholeWordTokensBeforeMerging) {
  // "abc" has no merge path but is a token: Llama 3 (ignore_merges) takes it whole.
  EXPECT_EQ(Encode({}, "abc", "llama-bpe"), (Ids{ABC}));
  EXPECT_EQ(Encode({}, "abc", "qwen2"), (Ids{A, B, C}));
}

TEST(BpeTest, LongWordIsLinearish) {
  // 20k identical bytes in one word: the heap keeps this fast.
  std::vector<std::string> tokens = {"a"};
  std::vector<std::pair<std::string, std::string>> merges;
  std::string piece = "a";
  for (int i = 0; i < 8; ++i) {
    merges.push_back({piece, piece});
    piece += piece;
    tokens.push_back(piece);
  }
  auto tok = Build(BpeVocab(tokens, merges));
  ASSERT_NE(tok, nullptr);
  const Ids ids = tok->Encode(std::string(20000, 'a'), false, false);
  // 20000 = 78 * 256 + 32: 78 tokens of 256 a's then one of 32.
  ASSERT_EQ(ids.size(), 79u);
  EXPECT_EQ(ids.front(), 8);
  EXPECT_EQ(ids.back(), 5);
}

}  // namespace
}  // namespace llmux::tokenizer
