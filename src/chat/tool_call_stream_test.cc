// ToolCallStream and the streaming of tool calls through ChatOutputParser: the call is announced
// once, its arguments arrive in pieces, and the result does not depend on where the generated
// text is cut (every byte of every marker is tried as a split point).
#include "chat/tool_call_stream.h"

#include <gtest/gtest.h>

#include "base/json_nesting.h"
#include "chat/chat_template.h"
#include "chat/chat_types.h"
#include "chat/output_parser.h"

namespace llmux::chat {
namespace {

OutputFormat FormatOf(std::string_view template_name) {
  auto t = MakeChatTemplate(template_name);
  EXPECT_TRUE(t.ok());
  RenderOptions options;
  options.enable_thinking = false;
  return (*t)->output_format(options);
}

ParserOptions FixedIds(int max_tool_calls = 0) {
  ParserOptions o;
  auto counter = std::make_shared<int>(0);
  o.make_call_id = [counter] { return "call_" + std::to_string((*counter)++); };
  o.max_tool_calls = max_tool_calls;
  return o;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// What a streaming client sees: every delta, in order.
std::vector<ChatDelta> Deltas(const OutputFormat& format, const std::vector<std::string>& pieces,
                              ParserOptions options = FixedIds()) {
  ChatOutputParser parser(format, std::move(options));
  std::vector<ChatDelta> out;
  for (const std::string& p : pieces) out.push_back(parser.Feed(p));
  out.push_back(parser.Finish());
  return out;
}

// The client's reassembly, checking the OpenAI rule on the way: a call's first delta has id
// and name, later ones only arguments for an index already started.
ChatDelta Reassemble(const std::vector<ChatDelta>& deltas, int* fragments = nullptr) {
  ChatDelta all;
  for (const ChatDelta& d : deltas) {
    EXPECT_TRUE(IsValidUtf8(d.content));
    for (const ToolCallDelta& c : d.tool_calls) {
      EXPECT_TRUE(IsValidUtf8(c.arguments)) << "a piece cuts UTF-8";
      if (fragments != nullptr) ++*fragments;
      if (c.index == static_cast<int>(all.tool_calls.size())) {
        EXPECT_FALSE(c.id.empty());
        EXPECT_FALSE(c.name.empty());
        all.tool_calls.push_back(c);
      } else {
        EXPECT_EQ(c.index, static_cast<int>(all.tool_calls.size()) - 1);
        if (all.tool_calls.empty()) continue;
        EXPECT_TRUE(c.id.empty() && c.name.empty());
        all.tool_calls.back().arguments += c.arguments;
      }
    }
    all.content += d.content;
  }
  return all;
}

std::vector<std::string> Bytes(std::string_view text) {
  std::vector<std::string> out;
  for (char c : text) out.emplace_back(1, c);
  return out;
}

TEST(ToolCallStreamTest, AnnouncesThenStreamsCompactArguments) {
  ToolCallStream s(ToolBodySyntax::kJson);
  EXPECT_FALSE(s.Feed("\n{\"name\": \"get_wea").started);
  ToolCallPiece p = s.Feed("ther\", \"arguments\": {\"city\": ");
  EXPECT_TRUE(p.started);
  EXPECT_EQ(p.name, "get_weather");
  EXPECT_EQ(p.arguments, "{\"city\":");
  EXPECT_EQ(s.Feed("\"Par").arguments, "\"Par");
  EXPECT_EQ(s.Feed("is, FR\" }").arguments, "is, FR\"}");
  EXPECT_TRUE(s.arguments_done());
  EXPECT_EQ(s.Feed("}\n").arguments, "");  // the call's closing brace is no argument
  ToolCallStream::End end = s.Finish();
  EXPECT_TRUE(end.is_call);
  EXPECT_TRUE(end.piece.arguments.empty());
}

TEST(ToolCallStreamTest, ParametersKeyAndEscapedName) {
  ToolCallStream s(ToolBodySyntax::kJson);
  ToolCallPiece p = s.Feed(R"({"name":"a\"b","parameters":{"x":[1, {"y": "}"}]}})");
  EXPECT_TRUE(p.started);
  EXPECT_EQ(p.name, "a\"b");
  EXPECT_EQ(p.arguments, R"({"x":[1,{"y":"}"}]})");
}

TEST(ToolCallStreamTest, OtherShapesAreHeldAndParsedWhole) {
  // Arguments first, arguments as a string, no arguments: announced only at the end.
  for (std::string body : {R"({"arguments": {"a": 1}, "name": "f"})",
                           R"({"name": "f", "arguments": "{\"a\": 1}"})", R"({"name": "f"})"}) {
    ToolCallStream s(ToolBodySyntax::kJson);
    EXPECT_FALSE(s.Feed(body).started) << body;
    ToolCallStream::End end = s.Finish();
    ASSERT_TRUE(end.is_call) << body;
    EXPECT_TRUE(end.piece.started);
    EXPECT_EQ(end.piece.name, "f");
    EXPECT_EQ(end.piece.arguments, body == R"({"name": "f"})" ? "{}" : R"({"a":1})");
  }
  for (std::string body :
       {R"({"name": 5, "arguments": {}})", R"({"name": "", "arguments": {}})", "not json", ""}) {
    ToolCallStream s(ToolBodySyntax::kJson);
    s.Feed(body);
    EXPECT_FALSE(s.Finish().is_call) << body;
    EXPECT_EQ(s.raw(), body);
  }
}

TEST(ToolCallStreamTest, LongPreambleIsHeld) {
  ToolCallStream s(ToolBodySyntax::kJson);
  EXPECT_FALSE(
      s.Feed("{\"name\": \"f\"," + std::string(ToolCallStream::kMaxHeaderBytes, ' ')).started);
  EXPECT_FALSE(s.Feed("\"arguments\": {\"a\": 1}}").started);
  ToolCallStream::End end = s.Finish();
  ASSERT_TRUE(end.is_call);
  EXPECT_EQ(end.piece.arguments, R"({"a":1})");
}

TEST(ToolCallStreamTest, DeepSeekBody) {
  for (std::string fence : {"```json\n", ""}) {
    ToolCallStream s(ToolBodySyntax::kDeepSeek);
    EXPECT_FALSE(s.Feed("function<｜tool▁sep｜>get_").started);
    EXPECT_FALSE(s.Feed("weather").started);  // the name may go on until the newline
    ToolCallPiece p = s.Feed("\n" + fence + "{\"city\": \"Paris\"");
    EXPECT_TRUE(p.started);
    EXPECT_EQ(p.name, "get_weather");
    EXPECT_EQ(p.arguments, "{\"city\":\"Paris\"");
    EXPECT_EQ(s.Feed("}\n```").arguments, "}");
    EXPECT_TRUE(s.Finish().is_call);
  }
}

TEST(ToolCallStreamTest, UnterminatedCallKeepsWhatArrived) {
  ToolCallStream s(ToolBodySyntax::kJson);
  EXPECT_TRUE(s.Feed(R"({"name": "f", "arguments": {"a": "x)").started);
  ToolCallStream::End end = s.Finish();
  EXPECT_TRUE(end.is_call);
  EXPECT_TRUE(end.piece.arguments.empty());
}

TEST(ToolCallStreamTest, NestingDeeperThanTheLimitEndsTheArguments) {
  ToolCallStream s(ToolBodySyntax::kJson);
  std::string args = "{\"a\":" + std::string(kMaxJsonNesting * 4, '[');
  ToolCallPiece p = s.Feed(R"({"name": "f", "arguments": )" + args);
  EXPECT_TRUE(p.started);
  EXPECT_TRUE(s.arguments_done());
  EXPECT_EQ(p.arguments, "{\"a\":" + std::string(kMaxJsonNesting - 1, '['));
  EXPECT_TRUE(s.Feed(std::string(1000, ']')).arguments.empty());
}

TEST(ToolCallStreamTest, HugeArgumentsStreamInPieces) {
  const std::string value(1 << 20, 'x');
  ToolCallStream s(ToolBodySyntax::kJson);
  std::string got = s.Feed(R"({"name": "f", "arguments": {"v": ")").arguments;
  for (size_t i = 0; i < value.size(); i += 4096) {
    ToolCallPiece p = s.Feed(std::string_view(value).substr(i, 4096));
    EXPECT_EQ(p.arguments.size(), 4096u);  // nothing is held back inside a string
    got += p.arguments;
  }
  got += s.Feed("\"}}").arguments;
  EXPECT_EQ(got, "{\"v\":\"" + value + "\"}");
  EXPECT_TRUE(s.raw().empty());  // the announced call keeps no copy of its body
}

// Content before the call, the call, content after: cut into two pieces at every byte.
void ExpectEverySplit(const OutputFormat& format, const std::string& text,
                      const std::string& content, const std::string& name,
                      const std::string& arguments) {
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ChatDelta all = Reassemble(Deltas(format, {text.substr(0, cut), text.substr(cut)}));
    EXPECT_EQ(all.content, content) << "cut at " << cut;
    ASSERT_EQ(all.tool_calls.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(all.tool_calls[0].name, name);
    EXPECT_EQ(all.tool_calls[0].arguments, arguments) << "cut at " << cut;
  }
  int fragments = 0;
  ChatDelta bytewise = Reassemble(Deltas(format, Bytes(text)), &fragments);
  EXPECT_EQ(bytewise.content, content);
  ASSERT_EQ(bytewise.tool_calls.size(), 1u);
  EXPECT_EQ(bytewise.tool_calls[0].arguments, arguments);
  EXPECT_GE(fragments, 3);  // the header, then the arguments as they come
}

TEST(ToolCallStreamingTest, QwenEverySplitPoint) {
  ExpectEverySplit(FormatOf("qwen3"),
                   "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                   "{\"city\": \"北京\", \"days\": [1, 2]}}\n</tool_call>",
                   "Let me check.", "get_weather", R"({"city":"北京","days":[1,2]})");
}

TEST(ToolCallStreamingTest, DeepSeekEverySplitPoint) {
  ExpectEverySplit(FormatOf("deepseek-v3"),
                   "Checking.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                   "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>"
                   "<｜tool▁calls▁end｜>",
                   "Checking.", "get_weather", R"({"city":"Paris"})");
}

TEST(ToolCallStreamingTest, LlamaEverySplitPoint) {
  ExpectEverySplit(
      FormatOf("llama3.1"),
      "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "",
      "get_weather", R"({"city":"Paris"})");
}

TEST(ToolCallStreamingTest, ArgumentsStreamBeforeTheClosingTag) {
  ChatOutputParser parser(FormatOf("qwen3"), FixedIds());
  ChatDelta d = parser.Feed("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"q\": \"a");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].id, "call_0");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"q\":\"a");
  d = parser.Feed("b\"}}\n</tool");  // "</tool" may be the closing tag: nothing else is held
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_TRUE(d.tool_calls[0].id.empty());
  EXPECT_EQ(d.tool_calls[0].arguments, "b\"}");
  EXPECT_TRUE(parser.Feed("_call>").empty());
  EXPECT_TRUE(parser.Finish().empty());
  EXPECT_EQ(parser.total().tool_calls.at(0).arguments, R"({"q":"ab"})");
}

TEST(ToolCallStreamingTest, MalformedBlockStaysContent) {
  ChatDelta all =
      Reassemble(Deltas(FormatOf("qwen3"), Bytes("a<tool_call>{\"name\": 1}</tool_call>b")));
  EXPECT_TRUE(all.tool_calls.empty());
  EXPECT_EQ(all.content, "a<tool_call>{\"name\": 1}</tool_call>b");
}

TEST(ToolCallStreamingTest, UnterminatedBlockAtFinishIsStillACall) {
  ChatDelta all = Reassemble(Deltas(
      FormatOf("qwen3"), Bytes("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}")));
  ASSERT_EQ(all.tool_calls.size(), 1u);
  EXPECT_EQ(all.tool_calls[0].arguments, R"({"a":1})");
}

TEST(ToolCallStreamingTest, MaxToolCallsDropsTheRest) {
  const std::string two =
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": "
      "\"g\", \"arguments\": {}}\n</tool_call>tail";
  ChatOutputParser one(FormatOf("qwen3"), FixedIds(/*max_tool_calls=*/1));
  ChatDelta d = one.Feed(two);
  EXPECT_TRUE(one.done_with_tools());
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_TRUE(d.content.empty());
  EXPECT_TRUE(one.Feed("more").empty());
  EXPECT_TRUE(one.Finish().empty());

  ChatOutputParser any(FormatOf("qwen3"), FixedIds());
  EXPECT_EQ(Reassemble({any.Feed(two), any.Finish()}).tool_calls.size(), 2u);
  EXPECT_FALSE(any.done_with_tools());
}

}  // namespace
}  // namespace llmux::chat
