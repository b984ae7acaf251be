// stories260K: SentencePiece BPE with byte fallback (tokenizer.ggml.model = llama).
#include "vectors_util.h"

namespace llmux {
namespace {

using testing::Ids;
using testing::LoadJson;
using testing::LoadTokenizer;

TEST(StoriesVectorsTest, VocabularyFacts) {
  auto tok = LoadTokenizer("models/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->IsEndOfGeneration(2));
  EXPECT_FALSE(tok->IsEndOfGeneration(1));
  EXPECT_EQ(tok->TokenToPiece(13), "\n");  // <0x0A>
  EXPECT_EQ(tok->TokenToPiece(403), " Once");
  EXPECT_EQ(tok->TokenToPiece(1), "<s>");
}

TEST(StoriesVectorsTest, PromptsAndGenerations) {
  auto tok = LoadTokenizer("models/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  const auto j = LoadJson("vectors/stories260K.json");
  ASSERT_EQ(j.at("prompts").size(), 3u);
  for (const auto& p : j.at("prompts")) {
    const std::string text = p.at("text");
    SCOPED_TRACE(text);
    const std::vector<int32_t> prompt = Ids(p.at("prompt_ids"));
    EXPECT_EQ(tok->Encode(text, /*add_special=*/true, /*parse_special=*/true), prompt);
    EXPECT_EQ(tok->Encode(text, true, false), prompt);
    // Without BOS the ids are the same minus the first.
    EXPECT_EQ(tok->Encode(text, false, true),
              std::vector<int32_t>(prompt.begin() + 1, prompt.end()));

    // llama.cpp's generated_text is the streamed pieces of the generated ids, one by one.
    for (const char* run : {"precise", "default"}) {
      const auto& r = p.at("llama_cpp").at(run);
      std::string streamed;
      for (int32_t id : Ids(r.at("generated_ids"))) streamed += tok->TokenToPiece(id);
      EXPECT_EQ(streamed, r.at("generated_text").get<std::string>()) << run;
      // Decode of the same ids alone drops SentencePiece's leading space of the first piece.
      const std::string decoded = tok->Decode(Ids(r.at("generated_ids")));
      EXPECT_EQ(decoded, streamed.front() == ' ' ? streamed.substr(1) : streamed) << run;
    }
    // run.c prints the prompt and the 64 generated pieces, then a newline. Without the BOS the
    // first piece loses SentencePiece's leading space, as there.
    std::vector<int32_t> all(prompt.begin() + 1, prompt.end());
    const auto generated = Ids(p.at("runc").at("generated_ids"));
    all.insert(all.end(), generated.begin(), generated.end());
    EXPECT_EQ(tok->Decode(all) + "\n", p.at("runc").at("stdout").get<std::string>());
    // With the BOS, llama.cpp renders it and keeps the space of the next piece.
    EXPECT_EQ(tok->Decode(prompt), "<s> " + text);
  }
}

TEST(StoriesVectorsTest, ByteFallbackRoundTrips) {
  auto tok = LoadTokenizer("models/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  // Characters outside the 512 pieces fall back to <0xNN> byte tokens (ids 3..258).
  const std::string text = "Lily saw a 🐶 and said «你好»";
  const auto ids = tok->Encode(text, true, false);
  int bytes = 0;
  for (int32_t id : ids) bytes += (id >= 3 && id <= 258) ? 1 : 0;
  EXPECT_GE(bytes, 4 + 2 + 2 + 6);
  EXPECT_EQ(tok->Decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), text);
}

}  // namespace
}  // namespace llmux
