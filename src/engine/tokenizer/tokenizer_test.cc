// Tokenizer behaviour on hand-made vocabularies: special tokens, end of generation, decoding,
// and errors (including GGUF metadata).
#include "engine/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/test_vocab.h"

namespace llmux::tokenizer {
namespace {

using testing::BpeVocab;
using testing::Build;
using testing::G;
using testing::Ids;

// ids:                       0    1    2    3    4    5    6       7        8      9            10
const std::vector<std::string> kChars = {"a",     "b",      "x",   "<",          "|",          ">",
                                         "<|a|>", "<|a|>x", "<u>", "<|im_end|>", "<|fim_pad|>"};

VocabData SpecialVocab() {
  VocabData d = BpeVocab(kChars, {});
  d.token_types = {1, 1, 1, 1, 1, 1, 3, 3, 4, 1, 3};
  d.eos_id = 1;  // "b", to see eos join the end-of-generation set
  return d;
}

TEST(TokenizerTest, SpecialTokensLongestFirst) {
  auto tok = Build(SpecialVocab());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("b<|a|>xb", false, true), (Ids{1, 7, 1}));
  EXPECT_EQ(tok->Encode("<|a|>b<|a|>", false, true), (Ids{6, 1, 6}));
  EXPECT_EQ(tok->Encode("<|a|><|a|>x", false, true), (Ids{6, 7}));
}

TEST(TokenizerTest, ParseSpecialOnlyAffectsControlTokens) {
  auto tok = Build(SpecialVocab());
  ASSERT_NE(tok, nullptr);
  // Control text is spelled out without parse_special ...
  EXPECT_EQ(tok->Encode("<|a|>", false, false), (Ids{3, 4, 0, 4, 5}));
  // ... while user-defined tokens are always recognised (llama.cpp and HF do the same).
  EXPECT_EQ(tok->Encode("a<u>b", false, false), (Ids{0, 8, 1}));
  EXPECT_EQ(tok->Encode("a<u>b", false, true), (Ids{0, 8, 1}));
}

TEST(TokenizerTest, EndOfGenerationByTextAndMetadata) {
  auto tok = Build(SpecialVocab());
  ASSERT_NE(tok, nullptr);
  // "<|im_end|>" is typed normal but llama.cpp treats it as a control EOG token by its text.
  EXPECT_TRUE(tok->IsEndOfGeneration(9));
  EXPECT_TRUE(tok->IsSpecial(9));
  EXPECT_EQ(tok->Encode("<|im_end|>", false, true), (Ids{9}));
  EXPECT_TRUE(tok->IsEndOfGeneration(10));  // FIM pad
  EXPECT_TRUE(tok->IsEndOfGeneration(1));   // eos
  EXPECT_FALSE(tok->IsEndOfGeneration(6));
  EXPECT_FALSE(tok->IsEndOfGeneration(0));
  EXPECT_FALSE(tok->IsEndOfGeneration(-1));
  EXPECT_FALSE(tok->IsEndOfGeneration(1000));
}

TEST(TokenizerTest, DecodeRendersSpecialTokensAndSkipsBadIds) {
  auto tok = Build(SpecialVocab());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Decode(Ids{6, 1, 8, 9}), "<|a|>b<u><|im_end|>");
  EXPECT_EQ(tok->Decode(Ids{0, -5, 1, 99999}), "ab");
  EXPECT_EQ(tok->TokenToPiece(-1), "");
  EXPECT_EQ(tok->TokenText(12345), "");
  EXPECT_EQ(tok->FindToken("<u>"), 8);
  EXPECT_EQ(tok->FindToken("nope"), -1);
}

TEST(TokenizerTest, TokenToPieceGivesRawBytes) {
  // "é" is two tokens of one byte each; each piece is half a UTF-8 sequence.
  auto tok = Build(BpeVocab({"\xc3", "\xa9", "\xc3\xa9"}, {}));
  ASSERT_NE(tok, nullptr);
  const Ids ids = tok->Encode("\xc3\xa9", false, false);
  ASSERT_EQ(ids, (Ids{0, 1}));
  EXPECT_EQ(tok->TokenToPiece(0), "\xc3");
  EXPECT_EQ(tok->TokenToPiece(1), "\xa9");
  EXPECT_EQ(tok->Decode(ids), "\xc3\xa9");
}

const std::vector<std::string> kWords = {"Hello", " ,",   " world", " .", " 's",
                                         " 't",   " 're", "a",      " '", " b"};

TEST(TokenizerTest, Llama3DecodeCleansUpSpaces) {
  auto tok = Build(BpeVocab(kWords, {}, "llama-bpe"));
  ASSERT_NE(tok, nullptr);
  // Space dropped before , and . and before 's / 're, kept before 't (llama.cpp's rules).
  EXPECT_EQ(tok->Decode(Ids{0, 1, 2, 4, 5, 6, 3}), "Hello, world's 't're.");
  EXPECT_EQ(tok->Decode(Ids{7, 8, 9}), "a'b");  // a lone quote loses both spaces
  // Streaming pieces are raw.
  EXPECT_EQ(tok->TokenToPiece(1), " ,");
}

TEST(TokenizerTest, Qwen2DecodeKeepsSpaces) {
  auto tok = Build(BpeVocab(kWords, {}, "qwen2"));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Decode(Ids{0, 1, 2, 4, 5, 6, 3}), "Hello , world 's 't 're .");
}

TEST(TokenizerTest, BosAndEos) {
  VocabData d =
      BpeVocab({"a", "b", "<s>", "</s>"}, {}, "llama-bpe");  // Llama 3 adds BOS by default
  d.token_types = {1, 1, 3, 3};
  d.bos_id = 2;
  d.eos_id = 3;
  d.add_eos = true;
  auto tok = Build(std::move(d));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("ab", true, false), (Ids{2, 0, 1, 3}));
  EXPECT_EQ(tok->Encode("ab", false, false), (Ids{0, 1}));
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 3);
}

TEST(TokenizerTest, OutOfRangeSpecialIdsAreIgnored) {
  VocabData d = BpeVocab({"a", "b"}, {}, "llama-bpe");
  d.bos_id = 7;  // out of range: the default (11) is out of range too, so no BOS
  d.eos_id = -3;
  auto tok = Build(std::move(d));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_id(), -1);
  EXPECT_EQ(tok->Encode("ab", true, true), (Ids{0, 1}));  // add_bos is set, but there is no BOS
}

TEST(TokenizerTest, BadVocabularies) {
  VocabData d = BpeVocab({"a"}, {});
  d.model = "bert";
  EXPECT_EQ(Tokenizer::FromVocab(d).status().code(), StatusCode::kUnimplemented);
  d = BpeVocab({"a"}, {}, "some-new-pre");
  EXPECT_EQ(Tokenizer::FromVocab(d).status().code(), StatusCode::kUnimplemented);
  d = BpeVocab({}, {});
  EXPECT_EQ(Tokenizer::FromVocab(d).status().code(), StatusCode::kInvalidArgument);
  d = BpeVocab({"a", "b"}, {});
  d.scores = {1.0f};
  EXPECT_EQ(Tokenizer::FromVocab(d).status().code(), StatusCode::kDataLoss);
  d = BpeVocab({"a", "b"}, {});
  d.token_types = {1};
  EXPECT_EQ(Tokenizer::FromVocab(d).status().code(), StatusCode::kDataLoss);
}

TEST(TokenizerTest, EmptyTokensAndOddMergesAreTolerated) {
  VocabData d = BpeVocab({"a", "", "b"}, {});
  d.merges = {"nospace", " x", "a ", G("a") + " " + G("b")};
  auto tok = Build(std::move(d));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->TokenText(1), "[EMPTY_1]");
  EXPECT_EQ(tok->Encode("ab", false, false), (Ids{0, 2}));  // "ab" is not a token: bytes
}

// --- GGUF metadata ---------------------------------------------------------------------

class GgufTokenizerTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Tokenizer>> Load(gguf::GgufWriter& w) {
    const std::string path = ::testing::TempDir() + "/tokenizer_test.gguf";
    const Status st = w.Write(path);
    EXPECT_TRUE(st.ok()) << st.ToString();
    auto file = gguf::GgufFile::Open(path);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) return file.status();
    return Tokenizer::FromGguf(**file);
  }
  void WriteValid(gguf::GgufWriter& w) {
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetString("tokenizer.ggml.pre", "qwen2");
    w.SetStringArray("tokenizer.ggml.tokens", {"a", "b", "ab", "<|im_end|>"});
    w.SetInt32Array("tokenizer.ggml.token_type", {1, 1, 1, 3});
    w.SetStringArray("tokenizer.ggml.merges", {"a b"});
    w.SetUint32("tokenizer.ggml.eos_token_id", 3);
    w.SetUint32("tokenizer.ggml.bos_token_id", 0);
    w.SetBool("tokenizer.ggml.add_bos_token", true);
  }
};

TEST_F(GgufTokenizerTest, ReadsMetadata) {
  gguf::GgufWriter w;
  WriteValid(w);
  auto tok = Load(w);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->n_vocab(), 4);
  EXPECT_EQ((*tok)->eos_id(), 3);
  EXPECT_TRUE((*tok)->IsEndOfGeneration(3));
  EXPECT_EQ((*tok)->Encode("abab<|im_end|>", true, true), (Ids{0, 2, 2, 3}));
}

TEST_F(GgufTokenizerTest, MissingModel) {
  gguf::GgufWriter w;
  w.SetStringArray("tokenizer.ggml.tokens", {"a"});
  auto tok = Load(w);
  EXPECT_EQ(tok.status().code(), StatusCode::kNotFound);
  EXPECT_NE(tok.status().message().find("tokenizer.ggml.model"), std::string::npos);
}

TEST_F(GgufTokenizerTest, MissingMerges) {
  gguf::GgufWriter w;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetStringArray("tokenizer.ggml.tokens", {"a"});
  auto tok = Load(w);
  EXPECT_EQ(tok.status().code(), StatusCode::kNotFound);
  EXPECT_NE(tok.status().message().find("tokenizer.ggml.merges"), std::string::npos);
}

TEST_F(GgufTokenizerTest, WrongTypes) {
  gguf::GgufWriter w;
  WriteValid(w);
  w.SetFloat32Array("tokenizer.ggml.tokens", {1.0f, 2.0f});
  EXPECT_EQ(Load(w).status().code(), StatusCode::kInvalidArgument);

  gguf::GgufWriter w2;
  WriteValid(w2);
  w2.SetInt32Array("tokenizer.ggml.token_type", {1});
  EXPECT_EQ(Load(w2).status().code(), StatusCode::kDataLoss);

  gguf::GgufWriter w3;
  WriteValid(w3);
  w3.SetString("tokenizer.ggml.model", "t5");
  EXPECT_EQ(Load(w3).status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace llmux::tokenizer
