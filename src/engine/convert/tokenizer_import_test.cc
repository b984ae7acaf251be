#include "engine/convert/tokenizer_import.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

namespace llmux::convert {
namespace {

std::string TempPath(const std::string& name) {
  return llmux::testing::BinaryDir() + "/convert_tokenizer_import_test_" + name;
}

// A byte-level BPE vocabulary small enough to check by hand. Id 4 is unused (a gap).
HfTokenizer TinyTokenizer() {
  HfTokenizer t;
  t.vocab = {{"a", 0}, {"b", 1}, {"ab", 2}, {"\u0120", 3}, {"\u0120a", 5}};
  t.merges = {{"a", "b"}, {"\u0120", "a"}};
  t.added_tokens = {
      {6, "<|end|>", true},     // special -> control
      {7, "<think>", false},    // not special -> user-defined
      {8, "<|odd|>", false},    // not flagged, but looks special -> control
      {9, "<unused0>", false},  // Gemma-style unused slot -> control
  };
  t.eos_token = "<|end|>";
  t.pad_token = "<|end|>";
  t.add_bos_token = false;
  t.chat_templates = {{"default", "{{ messages }}"}};
  return t;
}

std::vector<std::string> Strings(const gguf::GgufFile& f, const char* key) {
  auto v = f.GetStringArray(key);
  EXPECT_TRUE(v.ok()) << key;
  return v.ok() ? *v : std::vector<std::string>{};
}

std::vector<int64_t> Ints(const gguf::GgufFile& f, const char* key) {
  auto v = f.GetIntArray(key);
  EXPECT_TRUE(v.ok()) << key;
  return v.ok() ? *v : std::vector<int64_t>{};
}

TEST(TokenizerImport, TokensTypesMergesAndPadding) {
  TokenizerImportOptions opts;
  opts.vocab_size = 12;
  opts.name = "tiny";
  const std::string path = TempPath("tiny.gguf");
  auto summary = ImportTokenizer(TinyTokenizer(), opts, path);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->n_tokens, 12);
  EXPECT_EQ(summary->n_padding, 3);  // id 4 and the two padding entries 10, 11
  EXPECT_EQ(summary->n_control, 3);
  EXPECT_EQ(summary->n_user_defined, 1);
  EXPECT_EQ(summary->n_merges, 2);

  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const gguf::GgufFile& f = **file;
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.GetString("general.name"), "tiny");
  EXPECT_EQ(f.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(Strings(f, "tokenizer.ggml.tokens"),
            (std::vector<std::string>{"a", "b", "ab", "\u0120", "[PAD4]", "\u0120a", "<|end|>",
                                      "<think>", "<|odd|>", "<unused0>", "[PAD10]", "[PAD11]"}));
  EXPECT_EQ(Ints(f, "tokenizer.ggml.token_type"),
            (std::vector<int64_t>{1, 1, 1, 1, 5, 1, 3, 4, 3, 3, 5, 5}));
  EXPECT_EQ(f.FindArray("tokenizer.ggml.token_type")->element_type(), gguf::ValueType::kInt32);
  EXPECT_EQ(Strings(f, "tokenizer.ggml.merges"), (std::vector<std::string>{"a b", "\u0120 a"}));
  EXPECT_EQ(f.GetInt("tokenizer.ggml.eos_token_id"), 6);
  EXPECT_EQ(f.GetInt("tokenizer.ggml.padding_token_id"), 6);
  EXPECT_EQ(f.GetInt("tokenizer.ggml.bos_token_id"), 6);  // bos_token null: the pad token
  EXPECT_EQ(f.Find("tokenizer.ggml.unknown_token_id"), nullptr);
  EXPECT_EQ(f.GetBool("tokenizer.ggml.add_bos_token"), false);
  EXPECT_EQ(f.Find("tokenizer.ggml.add_eos_token"), nullptr);
  EXPECT_EQ(f.GetString("tokenizer.chat_template"), "{{ messages }}");

  // llama.cpp's key order (the same as a converted Qwen3 file).
  std::vector<std::string> keys;
  for (const auto& e : f.metadata()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "general.name", "tokenizer.ggml.model", "tokenizer.ggml.pre",
                      "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                      "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id",
                      "tokenizer.ggml.bos_token_id", "tokenizer.ggml.add_bos_token",
                      "tokenizer.chat_template"}));
  std::remove(path.c_str());
}

TEST(TokenizerImport, ImportedVocabularyTokenizes) {
  TokenizerImportOptions opts;
  const std::string path = TempPath("encode.gguf");
  ASSERT_TRUE(ImportTokenizer(TinyTokenizer(), opts, path).ok());
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok());
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->n_vocab(), 10);  // no --vocab-size, not a Qwen tokenizer: highest id + 1
  EXPECT_EQ((*tok)->Encode("ab a", false, true), (std::vector<int32_t>{2, 5}));
  EXPECT_EQ((*tok)->Encode("ab<|end|>", false, true), (std::vector<int32_t>{2, 6}));
  // User-defined tokens are matched even without special-token parsing; control ones are not.
  EXPECT_EQ((*tok)->Encode("<think>a", false, false), (std::vector<int32_t>{7, 0}));
  EXPECT_TRUE((*tok)->IsSpecial(6));
  std::remove(path.c_str());
}

TEST(TokenizerImport, DefaultVocabSizePadsQwenTokenizers) {
  HfTokenizer t = TinyTokenizer();
  EXPECT_EQ(DefaultVocabSize(t), 10);
  t.tokenizer_class = "Qwen2Tokenizer";
  EXPECT_EQ(DefaultVocabSize(t), 151936);
}

TEST(TokenizerImport, AddedTokenReplacesModelTokenOfSameId) {
  HfTokenizer t;
  t.vocab = {{"a", 0}, {"<|endoftext|>", 1}};  // GPT-2 lists its special token in both places
  t.added_tokens = {{1, "<|endoftext|>", true}};
  t.bos_token = "<|endoftext|>";
  t.eos_token = "<|endoftext|>";
  t.unk_token = "<|endoftext|>";
  t.add_eos_token = true;
  gguf::GgufWriter w;
  auto summary = AddTokenizerMetadata(t, {}, w);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->n_tokens, 2);
  EXPECT_EQ(summary->n_control, 1);
  auto types = w.Find("tokenizer.ggml.token_type")->AsArray()->as<int32_t>();
  ASSERT_NE(types, nullptr);
  EXPECT_EQ(*types, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(w.Find("tokenizer.ggml.bos_token_id")->AsUint(), 1u);
  EXPECT_EQ(w.Find("tokenizer.ggml.unknown_token_id")->AsUint(), 1u);
  EXPECT_EQ(w.Find("tokenizer.ggml.add_eos_token")->AsBool(), true);
  EXPECT_EQ(w.Find("tokenizer.ggml.padding_token_id"), nullptr);
}

TEST(TokenizerImport, SpacesInMergePartsAndNamedTemplates) {
  HfTokenizer t;
  t.vocab = {{"a b", 0}, {"c", 1}, {"a bc", 2}};
  t.merges = {{"a b", "c"}};
  t.chat_templates = {{"default", "D"}, {"tool_use", "T"}};
  gguf::GgufWriter w;
  ASSERT_TRUE(AddTokenizerMetadata(t, {}, w).ok());
  auto merges = w.Find("tokenizer.ggml.merges")->AsArray()->as<std::string>();
  ASSERT_NE(merges, nullptr);
  EXPECT_EQ(*merges, (std::vector<std::string>{"a\u0120b c"}));
  EXPECT_EQ(w.Find("tokenizer.chat_template")->AsString(), "D");
  EXPECT_EQ(w.Find("tokenizer.chat_template.tool_use")->AsString(), "T");
}

// SentencePiece-style BPE: a piece scores minus the rank of the first merge that makes it,
// so SentencePiece's highest-score-first merging follows Hugging Face's merge order even when
// ids do not (here "bc" has a higher id than "ab" but an earlier merge).
TEST(TokenizerImport, SentencePieceScoresFollowTheMerges) {
  HfTokenizer t;
  t.byte_fallback = true;
  t.add_space_prefix = false;
  t.vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"ab", 4}, {"bc", 5}, {"abc", 6}};
  t.merges = {{"b", "c"}, {"a", "b"}, {"a", "bc"}, {"ab", "c"}};
  t.unk_token = "<unk>";
  const std::string path = TempPath("spm.gguf");
  ASSERT_TRUE(ImportTokenizer(t, TokenizerImportOptions{}, path).ok());
  auto f = gguf::GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto scores = (*f)->GetFloatArray("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->size(), 7u);
  EXPECT_EQ((*scores)[5], 0.0f);   // bc: merge 0
  EXPECT_EQ((*scores)[4], -1.0f);  // ab: merge 1
  EXPECT_EQ((*scores)[6], -2.0f);  // abc: first made by merge 2
  EXPECT_LT((*scores)[1], -3.0f);  // single characters after every merge
  EXPECT_EQ((*f)->GetString("tokenizer.ggml.model").value_or(""), "llama");
  EXPECT_EQ((*f)->GetBool("tokenizer.ggml.add_space_prefix"), std::optional<bool>(false));
  auto tok = Tokenizer::FromGguf(**f);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  // "abc": b+c merges first (as Hugging Face's BPE does), then a+bc.
  EXPECT_EQ((*tok)->Encode("abc", false, false), (std::vector<int32_t>{6}));
  EXPECT_EQ((*tok)->Encode("abcab", false, false), (std::vector<int32_t>{6, 4}));
  std::remove(path.c_str());
}

TEST(TokenizerImport, RejectsBadInput) {
  auto fails = [](HfTokenizer t, const std::string& expected, int64_t vocab_size = 0) {
    TokenizerImportOptions opts;
    opts.vocab_size = vocab_size;
    gguf::GgufWriter w;
    auto r = AddTokenizerMetadata(t, opts, w);
    ASSERT_FALSE(r.ok()) << expected;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(expected), std::string::npos) << r.status().message();
  };
  HfTokenizer t = TinyTokenizer();
  t.model_type = "Unigram";
  fails(t, "only byte-level BPE");
  t = TinyTokenizer();
  t.vocab.clear();
  fails(t, "empty");
  t = TinyTokenizer();
  t.vocab.push_back({"dup", 2});
  fails(t, "id 2");
  t = TinyTokenizer();
  t.vocab.push_back({"neg", -1});
  fails(t, "outside");
  t = TinyTokenizer();
  t.vocab.push_back({"huge", int64_t{1} << 40});
  fails(t, "outside");
  t = TinyTokenizer();
  t.added_tokens.push_back({7, "<again>", true});
  fails(t, "twice");
  t = TinyTokenizer();
  t.eos_token = "<|missing|>";
  fails(t, "not in the vocabulary");
  t = TinyTokenizer();
  t.merges.push_back({"", "a"});
  fails(t, "empty part");
  fails(TinyTokenizer(), "below the highest token id", 5);
}

}  // namespace
}  // namespace llmux::convert
