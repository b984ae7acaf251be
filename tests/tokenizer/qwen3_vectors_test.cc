// Qwen3 byte-level BPE (pre-tokenizer qwen2) against llama.cpp's tokenizations.
#include <chrono>

#include "vectors_util.h"

namespace llmux {
namespace {

using testing::Ids;
using testing::LoadJson;
using testing::LoadTokenizer;

class Qwen3VectorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = LoadTokenizer("models/qwen3-vocab.gguf").release(); }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(tok_, nullptr); }
  static Tokenizer* tok_;
};
Tokenizer* Qwen3VectorsTest::tok_ = nullptr;

TEST_F(Qwen3VectorsTest, VocabularyFacts) {
  EXPECT_EQ(tok_->n_vocab(), 151936);
  EXPECT_EQ(tok_->bos_id(), 151643);
  EXPECT_EQ(tok_->eos_id(), 151645);
  EXPECT_FALSE(tok_->add_bos());
  EXPECT_EQ(tok_->TokenText(151644), "<|im_start|>");
  EXPECT_EQ(tok_->FindToken("<think>"), 151667);
  // llama.cpp's end-of-generation set for this vocabulary: eos, <|endoftext|> (found by
  // text) and the FIM pad / repo-name / file-separator tokens.
  for (int32_t id : {151645, 151643, 151662, 151663, 151664}) {
    EXPECT_TRUE(tok_->IsEndOfGeneration(id)) << id << " " << tok_->TokenText(id);
  }
  for (int32_t id : {151644, 151667, 151668, 151657, 0, 9707, -1, 151936}) {
    EXPECT_FALSE(tok_->IsEndOfGeneration(id)) << id;
  }
  // Padding tokens are UNUSED: llama.cpp renders them as nothing.
  EXPECT_EQ(tok_->TokenText(151700), "[PAD151700]");
  EXPECT_EQ(tok_->TokenToPiece(151700), "");
  // "Ġ" is the GPT-2 code point for a space; "Ċ" for a newline.
  EXPECT_EQ(tok_->TokenToPiece(tok_->FindToken("\xc4\xa0world")), " world");
  EXPECT_EQ(tok_->TokenToPiece(198), "\n");
}

TEST_F(Qwen3VectorsTest, LoadsQuickly) {
  auto file = gguf::GgufFile::Open(testing::SharedPath("models/qwen3-vocab.gguf"));
  ASSERT_TRUE(file.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = Tokenizer::FromGguf(**file);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(tok.ok());
  RecordProperty("load_seconds", std::to_string(seconds));
  std::printf("Qwen3 tokenizer (151936 tokens, 151387 merges) built in %.3f s\n", seconds);
  EXPECT_LT(seconds, 5.0);  // ~0.1 s in Release; generous for sanitizer builds
}

TEST_F(Qwen3VectorsTest, AllStringsMatchLlamaCpp) {
  const auto j = LoadJson("vectors/tokenizer-qwen3.json");
  const auto& items = j.at("items");
  ASSERT_EQ(items.size(), 100u);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const std::string text = item.at("text");
    SCOPED_TRACE("item " + std::to_string(i) + ": " + text.substr(0, 80));
    const std::vector<int32_t> ids = Ids(item.at("llama_cpp_ids"));
    EXPECT_EQ(tok_->Encode(text, /*add_special=*/true, /*parse_special=*/true), ids);
    EXPECT_EQ(tok_->Encode(text, true, false), Ids(item.at("llama_cpp_ids_no_parse_special")));
    EXPECT_EQ(tok_->Decode(ids), item.at("detokenize").at("text").get<std::string>());
    // Streaming pieces concatenate to the same text (qwen2 does no space clean-up).
    std::string streamed;
    for (int32_t id : ids) streamed += tok_->TokenToPiece(id);
    EXPECT_EQ(streamed, tok_->Decode(ids));
  }
}

TEST_F(Qwen3VectorsTest, ChatTemplateRenderings) {
  const auto j = LoadJson("vectors/chat-template-qwen3.json");
  const auto& cases = j.at("cases");
  ASSERT_EQ(cases.size(), 15u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const std::string rendered = c.at("rendered");
    const std::vector<int32_t> ids = Ids(c.at("rendered_ids"));
    EXPECT_EQ(tok_->Encode(rendered, true, true), ids);
    EXPECT_EQ(tok_->Decode(ids), rendered);
  }
}

TEST_F(Qwen3VectorsTest, ModelPromptIds) {
  // The prompts of the random-weight Qwen3 model vectors (special tokens parsed, no BOS).
  const auto j = LoadJson("vectors/qwen3-mini-f32.json");
  for (const auto& p : j.at("prompts")) {
    SCOPED_TRACE(p.at("name").get<std::string>());
    EXPECT_EQ(tok_->Encode(p.at("text").get<std::string>(), true, true), Ids(p.at("prompt_ids")));
  }
}

TEST_F(Qwen3VectorsTest, LongParagraphIsFast) {
  const auto j = LoadJson("vectors/tokenizer-qwen3.json");
  std::string longest;
  for (const auto& item : j.at("items")) {
    const std::string text = item.at("text");
    if (text.size() > longest.size()) longest = text;
  }
  ASSERT_GE(longest.size(), 2000u);
  const auto t0 = std::chrono::steady_clock::now();
  size_t n = 0;
  for (int rep = 0; rep < 20; ++rep) n += tok_->Encode(longest, true, true).size();
  const double per_call =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20;
  std::printf("%zu-byte paragraph: %zu tokens in %.3f ms\n", longest.size(), n / 20,
              per_call * 1e3);
  EXPECT_LT(per_call, 0.1);  // well under a millisecond or two in Release
}

TEST_F(Qwen3VectorsTest, InvalidUtf8BecomesReplacementCharacter) {
  // llama.cpp tokenizes each invalid byte as U+FFFD ("\xef\xbf\xbd").
  const std::string replaced =
      tok_->Decode(tok_->Encode("a\xff"
                                "b\xc3",
                                true, true));
  EXPECT_EQ(replaced,
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
}

}  // namespace
}  // namespace llmux
