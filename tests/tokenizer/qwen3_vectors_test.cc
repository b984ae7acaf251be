// Qwen3 byte-level BPE (pre-tokenizer qwen2) against llama.cpp's tokenizations.
#include <algorithm>

#include "tests/support/thread_cpu_time.h"
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
  // Catches a build that is not linear in the vocabulary (151,936 tokens, 151,387 merges): a
  // quadratic step would take minutes. Thread CPU time, which a busy machine does not
  // inflate; about 0.1 s in Release, a few times that under the sanitizers.
  auto file = gguf::GgufFile::Open(testing::SharedPath("models/qwen3-vocab.gguf"));
  ASSERT_TRUE(file.ok());
  const double t0 = testing::ThreadCpuSeconds();
  auto tok = Tokenizer::FromGguf(**file);
  const double seconds = testing::ThreadCpuSeconds() - t0;
  ASSERT_TRUE(tok.ok());
  RecordProperty("load_cpu_ms", static_cast<int>(seconds * 1e3));
  EXPECT_LT(seconds, 5.0);
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

// Thread CPU seconds of the fastest of `reps` encodings of `text`.
double EncodeCpuSeconds(const Tokenizer& tok, const std::string& text, int reps) {
  double best = 1e9;
  for (int rep = 0; rep < reps; ++rep) {
    const double t0 = testing::ThreadCpuSeconds();
    const size_t n = tok.Encode(text, true, true).size();
    best = std::min(best, testing::ThreadCpuSeconds() - t0);
    EXPECT_GT(n, 0u);
  }
  return best;
}

TEST_F(Qwen3VectorsTest, LongParagraphIsFast) {
  // Encoding must be linear in the text: eight copies of the longest paragraph may cost about
  // eight times one copy, not the 64 times of a quadratic step (e.g. re-scanning the text
  // from the start for every piece). A ratio of two CPU times of this run, so neither a busy
  // machine nor a sanitizer build moves it.
  const auto j = LoadJson("vectors/tokenizer-qwen3.json");
  std::string longest;
  for (const auto& item : j.at("items")) {
    const std::string text = item.at("text");
    if (text.size() > longest.size()) longest = text;
  }
  ASSERT_GE(longest.size(), 2000u);
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += longest + "\n\n";
  const double one = EncodeCpuSeconds(*tok_, longest, 10);
  const double many = EncodeCpuSeconds(*tok_, eight, 5);
  RecordProperty("paragraph_cpu_us", static_cast<int>(one * 1e6));
  EXPECT_LT(many, 20 * one) << "one paragraph " << one * 1e3 << " ms, eight " << many * 1e3 << " ms";
  // And no slow constant either (e.g. a scan of the vocabulary per piece: hundreds of ms):
  // well under a millisecond or two in Release.
  EXPECT_LT(one, 0.1);
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
