// ChatOutputParser: reasoning / content / tool-call splitting, held-back partial tags, and
// independence from how the stream is cut into pieces.
#include "chat/output_parser.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "chat/chat_template.h"

namespace llmux::chat {
namespace {

OutputFormat FormatOf(std::string_view template_name, bool thinking = true) {
  auto t = MakeChatTemplate(template_name);
  EXPECT_TRUE(t.ok());
  RenderOptions options;
  options.enable_thinking = thinking;
  return (*t)->output_format(options);
}

ParserOptions CountingIds() {
  ParserOptions o;
  auto counter = std::make_shared<int>(0);
  o.make_call_id = [counter] { return "call_" + std::to_string((*counter)++); };
  return o;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                                     : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Feeds `text` in pieces of the given sizes (the last piece takes the rest), then finishes.
// Returns the concatenation of all deltas and checks each delta on the way.
ChatDelta Run(const OutputFormat& format, std::string_view text, std::vector<size_t> sizes,
              ParserOptions options = CountingIds()) {
  ChatOutputParser parser(format, std::move(options));
  ChatDelta all;
  auto check = [&](const ChatDelta& d) {
    EXPECT_TRUE(IsValidUtf8(d.reasoning) && IsValidUtf8(d.content)) << "delta cuts UTF-8";
    all.Append(d);
  };
  size_t pos = 0;
  for (size_t n : sizes) {
    if (pos >= text.size()) break;
    check(parser.Feed(text.substr(pos, n)));
    pos += n;
  }
  if (pos < text.size()) check(parser.Feed(text.substr(pos)));
  check(parser.Finish());
  EXPECT_EQ(all.reasoning, parser.total().reasoning);
  EXPECT_EQ(all.content, parser.total().content);
  EXPECT_EQ(all.tool_calls.size(), parser.total().tool_calls.size());
  return all;
}

ChatDelta RunWhole(const OutputFormat& format, std::string_view text,
                   ParserOptions options = CountingIds()) {
  return Run(format, text, {text.size()}, std::move(options));
}

void ExpectSame(const ChatDelta& a, const ChatDelta& b) {
  EXPECT_EQ(a.reasoning, b.reasoning);
  EXPECT_EQ(a.content, b.content);
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].index, b.tool_calls[i].index);
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments);
  }
}

// The same text all at once, one byte at a time and in random pieces gives the same reply.
ChatDelta RunEveryWay(const OutputFormat& format, std::string_view text,
                      ParserOptions options = CountingIds()) {
  const ChatDelta whole = RunWhole(format, text, options);
  ExpectSame(whole, Run(format, text, std::vector<size_t>(text.size(), 1), options));
  std::mt19937 rng(1234);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> sizes;
    for (size_t total = 0; total < text.size();) {
      sizes.push_back(std::uniform_int_distribution<size_t>(1, 9)(rng));
      total += sizes.back();
    }
    ExpectSame(whole, Run(format, text, sizes, options));
  }
  return whole;
}

TEST(ChatOutputParserTest, ThinkThenContent) {
  ChatDelta r =
      RunEveryWay(FormatOf("qwen3"), "<think>\nLet me think.\nStill.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(r.reasoning, "Let me think.\nStill.");
  EXPECT_EQ(r.content, "The answer is 4.");
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ChatOutputParserTest, EmptyThinkBlock) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), "<think>\n\n</think>\n\nHi!");
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "Hi!");
}

TEST(ChatOutputParserTest, ThinkAndToolCall) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"),
                            "<think>\nNeed weather.\n</think>\n\n<tool_call>\n{\"name\": "
                            "\"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
                            "\"celsius\"}}\n</tool_call>");
  EXPECT_EQ(r.reasoning, "Need weather.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].index, 0);
  EXPECT_EQ(r.tool_calls[0].id, "call_0");
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris","unit":"celsius"})");
}

TEST(ChatOutputParserTest, ParallelCallsStreamOneByOne) {
  const std::string first =
      "<think>\n\n</think>\n\nI'll look both up.\n<tool_call>\n{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"北京\"}}\n</tool_call>";
  const std::string second =
      "\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"Asia/Tokyo\"}}\n"
      "</tool_call>";
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), first + second);
  EXPECT_EQ(r.content, "I'll look both up.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"北京"})");
  EXPECT_EQ(r.tool_calls[1].index, 1);
  EXPECT_EQ(r.tool_calls[1].name, "get_time");
  EXPECT_NE(r.tool_calls[0].id, r.tool_calls[1].id);

  // The first call is emitted as soon as its closing tag arrives.
  ChatOutputParser parser(FormatOf("qwen3"), CountingIds());
  ChatDelta d1 = parser.Feed(first);
  ASSERT_EQ(d1.tool_calls.size(), 1u);
  EXPECT_EQ(d1.tool_calls[0].name, "get_weather");
  EXPECT_EQ(parser.Feed(second).tool_calls.size(), 1u);
  EXPECT_TRUE(parser.Finish().empty());
  EXPECT_EQ(parser.tool_call_count(), 2);
}

TEST(ChatOutputParserTest, PartialTagsAreHeldBack) {
  ChatOutputParser parser(FormatOf("qwen3", /*thinking=*/false), CountingIds());
  EXPECT_EQ(parser.Feed("Hello <tool").content, "Hello ");
  EXPECT_EQ(parser.Feed("_cal").content, "");
  ChatDelta d = parser.Feed("l>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>");
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].arguments, "{}");
  EXPECT_TRUE(parser.Finish().empty());
  EXPECT_EQ(parser.total().content, "Hello ");  // only newlines next to a tag are layout
}

TEST(ChatOutputParserTest, TextThatOnlyLooksLikeATag) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), "a <b> c <tool_calls> d <tool_cal");
  EXPECT_EQ(r.content, "a <b> c <tool_calls> d <tool_cal");
  EXPECT_TRUE(r.tool_calls.empty());
  ChatDelta r2 = RunEveryWay(FormatOf("qwen3"), "<thinking is fun>");
  EXPECT_EQ(r2.reasoning, "");
  EXPECT_EQ(r2.content, "<thinking is fun>");
  // <think> later in the output is text.
  ChatDelta r3 = RunEveryWay(FormatOf("qwen3"), "x<think>y</think>");
  EXPECT_EQ(r3.content, "x<think>y</think>");
}

TEST(ChatOutputParserTest, NestedTags) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"),
                            "<think>\nMaybe <tool_call> later.\n</think>\n\nok <think> done");
  EXPECT_EQ(r.reasoning, "Maybe <tool_call> later.");
  EXPECT_EQ(r.content, "ok <think> done");
  ChatDelta r2 = RunEveryWay(
      FormatOf("qwen3"),
      "<tool_call>\n{\"name\": \"echo\", \"arguments\": {\"text\": \"<tool_call> <think>\"}}\n"
      "</tool_call>");
  ASSERT_EQ(r2.tool_calls.size(), 1u);
  EXPECT_EQ(r2.tool_calls[0].arguments, R"({"text":"<tool_call> <think>"})");
}

TEST(ChatOutputParserTest, MalformedBlockIsContent) {
  const std::string text = "Sure.\n<tool_call>\n{not json}\n</tool_call>\nBye";
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), text);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
  const std::string no_name = "<tool_call>{\"arguments\": {}}</tool_call>";
  EXPECT_EQ(RunEveryWay(FormatOf("qwen3"), no_name).content, no_name);
  const std::string bad_args = "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call>";
  EXPECT_EQ(RunEveryWay(FormatOf("qwen3"), bad_args).content, bad_args);
}

TEST(ChatOutputParserTest, ArgumentVariants) {
  ChatDelta r = RunEveryWay(
      FormatOf("qwen3"),
      "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>"
      "<tool_call>{\"name\": \"b\", \"parameters\": {\"y\": [1, 2.5]}}</tool_call>"
      "<tool_call>{\"name\": \"c\"}</tool_call>");
  ASSERT_EQ(r.tool_calls.size(), 3u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"x":1})");
  EXPECT_EQ(r.tool_calls[1].arguments, R"({"y":[1,2.5]})");
  EXPECT_EQ(r.tool_calls[2].arguments, "{}");
  EXPECT_EQ(r.content, "");
}

TEST(ChatOutputParserTest, UnterminatedBlockAtFinish) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"),
                            "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"x":1})");
  const std::string cut = "Hm.\n<tool_call>\n{\"name\": \"f\", \"argu";
  ChatDelta r2 = RunEveryWay(FormatOf("qwen3"), cut);
  EXPECT_EQ(r2.content, cut);
  EXPECT_TRUE(r2.tool_calls.empty());
}

TEST(ChatOutputParserTest, ThinkingOffMeansEverythingIsContent) {
  const std::string text = "<think>\nhidden?\n</think>\n\nHi";
  ChatDelta r = RunEveryWay(FormatOf("qwen3", /*thinking=*/false), text);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, text);
  ChatDelta r2 = RunEveryWay(FormatOf("qwen2.5"), text);
  EXPECT_EQ(r2.content, text);
  // Tool calls are still parsed.
  ChatDelta r3 = RunEveryWay(FormatOf("qwen3", false),
                             "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>");
  EXPECT_EQ(r3.tool_calls.size(), 1u);
}

TEST(ChatOutputParserTest, ReasoningThatNeverCloses) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), "<think>\nstill thinking");
  EXPECT_EQ(r.reasoning, "still thinking");
  EXPECT_EQ(r.content, "");
  ChatDelta r2 = RunEveryWay(FormatOf("qwen3"), "<thi");
  EXPECT_EQ(r2.content, "<thi");
}

TEST(ChatOutputParserTest, GenerationPromptOpenedThinking) {
  ChatDelta r = RunEveryWay(FormatOf("deepseek-r1"), "\nReasoning.\n</think>\n\nAnswer");
  EXPECT_EQ(r.reasoning, "Reasoning.");
  EXPECT_EQ(r.content, "Answer");
}

TEST(ChatOutputParserTest, ToolParsingOff) {
  ParserOptions o = CountingIds();
  o.parse_tool_calls = false;
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>";
  ChatDelta r = RunEveryWay(FormatOf("qwen3"), text, o);
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(ChatOutputParserTest, DeepSeekToolCalls) {
  ChatDelta r = RunEveryWay(
      FormatOf("deepseek-v3"),
      "Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n"
      "```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function"
      "<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_EQ(r.content, "Checking.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.tool_calls[1].name, "get_time");
  EXPECT_EQ(r.tool_calls[1].arguments, "{}");
}

TEST(ChatOutputParserTest, LlamaBareJsonCall) {
  ChatDelta r = RunEveryWay(FormatOf("llama3.1"),
                            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.content, "");
  ChatDelta r2 = RunEveryWay(FormatOf("llama3.1"), "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}");
  EXPECT_EQ(r2.tool_calls.size(), 1u);
  EXPECT_EQ(RunEveryWay(FormatOf("llama3.1"), " {\"foo\": 1}").content, " {\"foo\": 1}");
  // Ordinary text streams at once.
  ChatOutputParser parser(FormatOf("llama3.1"));
  EXPECT_EQ(parser.Feed("Hello").content, "Hello");
  EXPECT_EQ(parser.Feed(" {x}").content, " {x}");
}

TEST(ChatOutputParserTest, Utf8NeverSplit) {
  ChatDelta r = RunEveryWay(FormatOf("qwen3"),
                            "<think>\n思考中…\n</think>\n\n北京的天气 ☀️ 😀 ok");
  EXPECT_EQ(r.reasoning, "思考中…");
  EXPECT_EQ(r.content, "北京的天气 ☀️ 😀 ok");
}

// Random mixes of tags, partial tags, newlines, multi-byte text and call bodies: however the
// stream is cut, the reply is the same, and no text is lost outside of tags and layout.
TEST(ChatOutputParserTest, RandomStreamsAgree) {
  const std::vector<std::string> pieces = {
      "<think>", "</think>", "<tool_call>", "</tool_call>", "\n", "\n\n", "a", " ", "北",
      "<", "<tool", "</think", "{\"name\": \"f\", \"arguments\": {\"x\": 1}}", "{bad",
      "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁begin｜>",
      "function<｜tool▁sep｜>g\n```json\n{}\n```", "😀", "<|python_tag|>"};
  const std::vector<OutputFormat> formats = {FormatOf("qwen3"), FormatOf("qwen3", false),
                                             FormatOf("deepseek-v3"), FormatOf("deepseek-r1"),
                                             FormatOf("llama3.1"), FormatOf("plain")};
  std::mt19937 rng(99);
  for (int i = 0; i < 150; ++i) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(1, 14)(rng);
    for (int k = 0; k < n; ++k) {
      text += pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)];
    }
    for (const OutputFormat& f : formats) {
      SCOPED_TRACE(text);
      ChatDelta r = RunEveryWay(f, text);
      if (f.think_open.empty() && f.tool_syntax == ToolCallSyntax::kNone) {
        EXPECT_EQ(r.content, text);  // nothing to recognise: the text comes back unchanged
      }
    }
  }
}

TEST(ChatOutputParserTest, DefaultIdsAndFinish) {
  ChatOutputParser parser(FormatOf("qwen3"));
  parser.Feed("<tool_call>{\"name\": \"a\"}</tool_call><tool_call>{\"name\": \"b\"}</tool_call>");
  parser.Finish();
  ASSERT_EQ(parser.total().tool_calls.size(), 2u);
  const std::regex id_re("call_[A-Za-z0-9]{24}");
  EXPECT_TRUE(std::regex_match(parser.total().tool_calls[0].id, id_re));
  EXPECT_TRUE(std::regex_match(parser.total().tool_calls[1].id, id_re));
  EXPECT_NE(parser.total().tool_calls[0].id, parser.total().tool_calls[1].id);
  EXPECT_TRUE(parser.finished());
  EXPECT_TRUE(parser.Feed("more").empty());
  EXPECT_TRUE(parser.Finish().empty());
}

TEST(ChatOutputParserTest, MakeParserFromTemplate) {
  auto t = MakeChatTemplate("qwen3");
  ASSERT_TRUE(t.ok());
  auto parser = (*t)->MakeParser({.enable_thinking = false});
  EXPECT_EQ(parser->Feed("<think>x</think>y").content, "<think>x</think>y");
  EXPECT_TRUE(parser->Finish().empty());
  EXPECT_EQ(parser->total().content, "<think>x</think>y");
}

}  // namespace
}  // namespace llmux::chat
