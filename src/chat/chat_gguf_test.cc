// The real Qwen3 chat template, read from the shared vocabulary-only GGUF file: selection
// recognises it, and the renderings of the reference cases tokenize to the reference ids
// (llama.cpp's tokenization of the Jinja renderings).
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/chat_test_util.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

namespace llmux::chat {
namespace {

const std::string kShared = llmux::testing::SharedDir();

TEST(ChatGgufTest, Qwen3VocabTemplateSelectsQwen3) {
  auto file = gguf::GgufFile::Open(kShared + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto source = (*file)->GetString("tokenizer.chat_template");
  ASSERT_TRUE(source.has_value());
  auto arch = (*file)->GetString("general.architecture");
  ASSERT_TRUE(arch.has_value());
  auto t = SelectChatTemplate(*arch, *source);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->name(), "qwen3");
  // The same text with an unrelated architecture still selects Qwen3 (deepseek3-mini
  // carries the Qwen3 vocabulary and template).
  auto t2 = SelectChatTemplate("deepseek2", *source);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ((*t2)->name(), "qwen3");

  // The vectors' template is this file's template.
  const Json vectors = Json::parse(
      testing::ReadFile(kShared + "/vectors/chat-template-qwen3.json"), nullptr, false);
  ASSERT_FALSE(vectors.is_discarded());
  EXPECT_EQ(vectors["template"].get<std::string>(), *source);
}

TEST(ChatGgufTest, StoriesHasNoTemplateAndGetsPlain) {
  auto file = gguf::GgufFile::Open(kShared + "/models/stories260K.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::string source = (*file)->GetString("tokenizer.chat_template").value_or("");
  auto t = SelectChatTemplate((*file)->GetString("general.architecture").value_or(""), source);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->name(), "plain");
}

TEST(ChatGgufTest, RenderedCasesTokenizeToReferenceIds) {
  auto file = gguf::GgufFile::Open(kShared + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok());
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const Json vectors = Json::parse(
      testing::ReadFile(kShared + "/vectors/chat-template-qwen3.json"), nullptr, false);
  ASSERT_FALSE(vectors.is_discarded());
  auto tmpl = MakeChatTemplate("qwen3");
  ASSERT_TRUE(tmpl.ok());
  for (const auto& c : vectors["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    RenderOptions options;
    options.add_generation_prompt = c["kwargs"].value("add_generation_prompt", false);
    options.enable_thinking = c["kwargs"].value("enable_thinking", true);
    auto rendered = (*tmpl)->Render(testing::MessagesFromJson(c["messages"]),
                                    testing::ToolsFromJson(c["tools"]), options);
    ASSERT_TRUE(rendered.ok());
    const auto ids = (*tok)->Encode(*rendered, /*add_special=*/true, /*parse_special=*/true);
    EXPECT_EQ(ids, c["rendered_ids"].get<std::vector<int32_t>>());
  }
}

}  // namespace
}  // namespace llmux::chat
