// DetectJinjaOutputFormat on template fragments, and ChatOutputParser on the two syntaxes only
// Jinja templates bring: Mistral's [TOOL_CALLS] list and gpt-oss harmony. The harmony texts
// follow OpenAI's published harmony format (no gpt-oss Jinja template is available offline
// here to render them); the rendered references of the other families are in
// tests/chat/tool_call_reference_test.cc.
#include "chat/jinja_output_format.h"

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/output_parser.h"

namespace llmux::chat {
namespace {

ParserOptions CountingIds() {
  ParserOptions o;
  auto counter = std::make_shared<int>(0);
  o.make_call_id = [counter] { return "call_" + std::to_string((*counter)++); };
  return o;
}

// The whole text at once, and one byte at a time: both must give the same reply.
ChatDelta Parse(const OutputFormat& f, std::string_view text, ParserOptions o = CountingIds()) {
  o.make_call_id = [] { return std::string("call_x"); };
  ChatOutputParser whole(f, o);
  whole.Feed(text);
  whole.Finish();
  ChatOutputParser bytes(f, o);
  ChatDelta streamed;
  for (char c : text) streamed.Append(bytes.Feed(std::string_view(&c, 1)));
  streamed.Append(bytes.Finish());
  const ChatDelta& a = whole.total();
  EXPECT_EQ(a.content, streamed.content) << text;
  EXPECT_EQ(a.reasoning, streamed.reasoning) << text;
  EXPECT_EQ(a.tool_calls.size(), streamed.tool_calls.size()) << text;
  for (size_t i = 0; i < std::min(a.tool_calls.size(), streamed.tool_calls.size()); ++i) {
    EXPECT_EQ(a.tool_calls[i].name, streamed.tool_calls[i].name);
    EXPECT_EQ(a.tool_calls[i].arguments, streamed.tool_calls[i].arguments);
  }
  return a;
}

TEST(DetectJinjaOutputFormat, Families) {
  EXPECT_EQ(DetectJinjaOutputFormat("{{ '<|start|>assistant<|channel|>final<|message|>' }}", true)
                .tool_syntax,
            ToolCallSyntax::kHarmony);
  const OutputFormat mistral = DetectJinjaOutputFormat("{{ '[TOOL_CALLS][' }}", true);
  EXPECT_EQ(mistral.tool_syntax, ToolCallSyntax::kJsonArray);
  EXPECT_EQ(mistral.tool_open, "[TOOL_CALLS]");
  // The v11 form: the name, then [ARGS] and the arguments.
  const OutputFormat v11 = DetectJinjaOutputFormat("[TOOL_CALLS]{{ name }}[ARGS]", true);
  EXPECT_EQ(v11.tool_syntax, ToolCallSyntax::kNameArgs);
  EXPECT_EQ(v11.tool_open, "[TOOL_CALLS]");
  EXPECT_EQ(v11.tool_args, "[ARGS]");
  const OutputFormat hermes = DetectJinjaOutputFormat("<tool_call>\n{{ x }}\n</tool_call>", true);
  EXPECT_EQ(hermes.tool_syntax, ToolCallSyntax::kJsonInTags);
  EXPECT_EQ(hermes.tool_close, "</tool_call>");
  EXPECT_TRUE(hermes.think_close.empty());
  EXPECT_EQ(DetectJinjaOutputFormat("{{ bos_token }}<start_of_turn>model\n", true).tool_syntax,
            ToolCallSyntax::kNone);
}

TEST(DetectJinjaOutputFormat, ThinkTags) {
  // R1-distill style: the generation prompt opens the block.
  const OutputFormat opens = DetectJinjaOutputFormat(
      "{{ m.content.split('</think>')[-1] }}{% if add_generation_prompt %}<|im_start|>assistant\n"
      "<think>\n{% endif %}",
      true);
  EXPECT_EQ(opens.think_open, "<think>");
  EXPECT_TRUE(opens.starts_in_think);
  // Qwen3 style: enable_thinking false closes the block in the prompt.
  const std::string qwen3 =
      "<tool_call></tool_call><think>{% if add_generation_prompt %}<|im_start|>assistant\n"
      "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
      "{% endif %}{% endif %}";
  const OutputFormat on = DetectJinjaOutputFormat(qwen3, true);
  EXPECT_EQ(on.think_close, "</think>");
  EXPECT_FALSE(on.starts_in_think);
  EXPECT_TRUE(DetectJinjaOutputFormat(qwen3, false).think_close.empty());
}

TEST(JinjaTemplateOutputFormat, FollowsTheSource) {
  auto t = MakeJinjaChatTemplate(
      "{% for m in messages %}{{ m.content }}{% endfor %}{% if tools %}[TOOL_CALLS]{% endif %}");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ((*t)->output_format({}).tool_syntax, ToolCallSyntax::kJsonArray);
}

OutputFormat Mistral() { return DetectJinjaOutputFormat("[TOOL_CALLS]", true); }

TEST(MistralToolCalls, ListOfCalls) {
  const ChatDelta d = Parse(Mistral(),
                            "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                            "\"Oslo\"}, \"id\": \"abcDEF123\"}, {\"name\": \"add\", \"arguments\": "
                            "{\"a\": [1, {\"b\": \"}]\"}]}}]");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
  EXPECT_EQ(d.tool_calls[1].name, "add");
  EXPECT_EQ(d.tool_calls[1].arguments, "{\"a\":[1,{\"b\":\"}]\"}]}");
  EXPECT_EQ(d.tool_calls[1].index, 1);
  EXPECT_EQ(d.content, "");
}

TEST(MistralToolCalls, TextAroundAndNotAList) {
  const ChatDelta d =
      Parse(Mistral(), "Sure.[TOOL_CALLS] [{\"arguments\": \"{\\\"x\\\": 1}\", \"name\": \"f\"}]");
  EXPECT_EQ(d.content, "Sure.");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"x\":1}");
  // Not a list of calls: the text as it was.
  for (std::string_view text : {"a [TOOL_CALLS] b", "[TOOL_CALLS][{\"nom\": 1}] tail",
                                "[TOOL_CALLS][", "[TOOL_CALLS][{\"name\": \"f\", \"argu"}) {
    const ChatDelta n = Parse(Mistral(), text);
    EXPECT_TRUE(n.tool_calls.empty()) << text;
    EXPECT_EQ(n.content, text);
  }
  ParserOptions off = CountingIds();
  off.parse_tool_calls = false;
  EXPECT_EQ(Parse(Mistral(), "[TOOL_CALLS][{\"name\": \"f\"}]", off).content,
            "[TOOL_CALLS][{\"name\": \"f\"}]");
}

OutputFormat MistralV11() { return DetectJinjaOutputFormat("[TOOL_CALLS]{{ n }}[ARGS]", true); }

TEST(MistralV11ToolCalls, CallsOneAfterAnother) {
  const ChatDelta d =
      Parse(MistralV11(),
            "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Oslo\"}[TOOL_CALLS]add[CALL_ID]"
            "abcDEF123[ARGS] {\"a\": [1, {\"b\": \"}]\"}]}");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
  EXPECT_EQ(d.tool_calls[1].name, "add");
  EXPECT_EQ(d.tool_calls[1].arguments, "{\"a\":[1,{\"b\":\"}]\"}]}");
  EXPECT_EQ(d.tool_calls[1].index, 1);
  EXPECT_EQ(d.content, "");
}

TEST(MistralV11ToolCalls, TextAroundAndNotACall) {
  const ChatDelta d = Parse(MistralV11(), "Sure.\n[TOOL_CALLS]f[ARGS]{\"x\": 1}\nDone.");
  EXPECT_EQ(d.content, "Sure.Done.");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"x\":1}");
  // Not calls: the text as it was (a name with a space, no object, a name too long, no [ARGS]).
  const std::string long_name = "[TOOL_CALLS]" + std::string(300, 'x') + "[ARGS]{}";
  for (std::string_view text :
       {std::string_view("a [TOOL_CALLS] b [ARGS]{}"), std::string_view("[TOOL_CALLS]f[ARGS]hello"),
        std::string_view(long_name), std::string_view("[TOOL_CALLS]f"),
        std::string_view("[TOOL_CALLS][ARGS]{}")}) {
    const ChatDelta n = Parse(MistralV11(), text);
    EXPECT_TRUE(n.tool_calls.empty()) << text;
    EXPECT_EQ(n.content, text);
  }
  // A call whose object never closes stays a call, cut where the output stopped.
  const ChatDelta cut = Parse(MistralV11(), "[TOOL_CALLS]f[ARGS]{\"x\": [1, 2");
  ASSERT_EQ(cut.tool_calls.size(), 1u);
  EXPECT_EQ(cut.tool_calls[0].name, "f");
  ParserOptions off = CountingIds();
  off.parse_tool_calls = false;
  EXPECT_EQ(Parse(MistralV11(), "[TOOL_CALLS]f[ARGS]{}", off).content, "[TOOL_CALLS]f[ARGS]{}");
}

TEST(MistralV11ToolCalls, OneCallWhenParallelIsOff) {
  ParserOptions o = CountingIds();
  o.max_tool_calls = 1;
  ChatOutputParser p(MistralV11(), o);
  p.Feed("[TOOL_CALLS]a[ARGS]{}[TOOL_CALLS]b[ARGS]{}");
  p.Finish();
  ASSERT_EQ(p.total().tool_calls.size(), 1u);
  EXPECT_EQ(p.total().tool_calls[0].name, "a");
  EXPECT_TRUE(p.done_with_tools());
}

TEST(MistralToolCalls, OneCallWhenParallelIsOff) {
  ParserOptions o = CountingIds();
  o.max_tool_calls = 1;
  ChatOutputParser p(Mistral(), o);
  p.Feed(
      "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": {}}]");
  p.Finish();
  ASSERT_EQ(p.total().tool_calls.size(), 1u);
  EXPECT_EQ(p.total().tool_calls[0].name, "a");
  EXPECT_TRUE(p.done_with_tools());
}

OutputFormat Harmony() { return DetectJinjaOutputFormat("<|channel|><|message|>", true); }

TEST(HarmonyOutput, ReasoningAndFinal) {
  const ChatDelta d = Parse(Harmony(),
                            "<|channel|>analysis<|message|>User wants a sum. 5050.<|end|>"
                            "<|start|>assistant<|channel|>final<|message|>The sum is 5050.\n"
                            "<|return|>");
  EXPECT_EQ(d.reasoning, "User wants a sum. 5050.");
  EXPECT_EQ(d.content, "The sum is 5050.\n");
  EXPECT_TRUE(d.tool_calls.empty());
}

TEST(HarmonyOutput, ToolCallsWithTheRecipientInEitherPlace) {
  const ChatDelta d =
      Parse(Harmony(),
            "<|channel|>analysis<|message|>Need weather.<|end|>"
            "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
            "<|message|>{\"city\": \"Oslo\"}<|call|>"
            "<|start|>assistant to=functions.lookup<|channel|>commentary json<|message|>"
            "\"{\\\"q\\\": \\\"x\\\"}\"<|call|>");
  EXPECT_EQ(d.reasoning, "Need weather.");
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(d.tool_calls.size(), 2u);
  EXPECT_EQ(d.tool_calls[0].name, "get_weather");
  EXPECT_EQ(d.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
  EXPECT_EQ(d.tool_calls[1].name, "lookup");
  EXPECT_EQ(d.tool_calls[1].arguments, "{\"q\":\"x\"}");
}

TEST(HarmonyOutput, EndTokensNotDecodedAndPlainText) {
  // An engine that stops on <|call|> without decoding it.
  const ChatDelta call = Parse(
      Harmony(), "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\":1}");
  ASSERT_EQ(call.tool_calls.size(), 1u);
  EXPECT_EQ(call.tool_calls[0].arguments, "{\"a\":1}");
  // A header cut by the end of output is dropped, not returned as text.
  const ChatDelta cut =
      Parse(Harmony(), "<|channel|>final<|message|>Hi<|end|><|start|>assistant<|channel|>fin");
  EXPECT_EQ(cut.content, "Hi");
  // Text before a header is content, however long (the fuzzer's case: the parse must not
  // depend on how the text was split, which Parse checks).
  EXPECT_EQ(Parse(Harmony(), "Hello<|channel|>final<|message|> there").content, "Hello there");
  const std::string long_text(1100, 'a');
  EXPECT_EQ(Parse(Harmony(), long_text + "<|channel|>final").content, long_text);
  // A model that writes no header: its text is content.
  EXPECT_EQ(Parse(Harmony(), "Hello there").content, "Hello there");
  // A call body that is no JSON object: the message is content, header included.
  const ChatDelta bad = Parse(Harmony(), "<|channel|>commentary to=functions.f<|message|>oops");
  EXPECT_TRUE(bad.tool_calls.empty());
  EXPECT_EQ(bad.content, "<|channel|>commentary to=functions.f<|message|>oops");
  // A header that never ends is bounded, then text.
  const std::string endless = "<|channel|>" + std::string(5000, 'x');
  EXPECT_EQ(Parse(Harmony(), endless).content, endless);
}

}  // namespace
}  // namespace llmux::chat
