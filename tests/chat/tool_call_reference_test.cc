// The output parser of templates served through the Jinja interpreter, against what the models'
// own templates write for a tool-calling turn: @huggingface/jinja renders each conversation
// (tests/e2e/tool_call_references.mjs, run by the ctest fixture chat_tool_call_references), the
// turn after the generation prompt is the model's output, and the conversation's own calls,
// content and reasoning are the expected values. The format comes from the template source
// (DetectJinjaOutputFormat through MakeJinjaChatTemplate); the text is parsed whole and in
// random pieces, and the pieces' deltas must add up to the whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "chat/chat_template.h"
#include "chat/chat_test_util.h"
#include "tests/support/test_paths.h"

namespace llmux::chat {
namespace {

const std::string kReferences =
    llmux::testing::BinaryDir() + "/tests/chat/tool_call_references.json";

ToolCallSyntax SyntaxNamed(const std::string& name) {
  if (name == "json_in_tags") return ToolCallSyntax::kJsonInTags;
  if (name == "json_array") return ToolCallSyntax::kJsonArray;
  if (name == "deepseek") return ToolCallSyntax::kDeepSeek;
  return ToolCallSyntax::kNone;
}

// The model stops at its end-of-turn token: the text before the first one the test knows.
std::string UpToEndOfTurn(std::string text) {
  for (std::string_view eot :
       {"<|im_end|>", "</s>", "<｜end▁of▁sentence｜>", "<end_of_turn>", "<|eot_id|>"}) {
    const size_t at = text.find(eot);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

ParserOptions FixedIds() {
  ParserOptions o;
  o.make_call_id = [] { return std::string("call_t"); };
  return o;
}

void ExpectReply(const ChatDelta& got, const Json& expected) {
  EXPECT_EQ(got.content, expected["content"].get<std::string>());
  EXPECT_EQ(got.reasoning, expected["reasoning"].get<std::string>());
  const Json& calls = expected["calls"];
  ASSERT_EQ(got.tool_calls.size(), calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(got.tool_calls[i].index, static_cast<int>(i));
    EXPECT_EQ(got.tool_calls[i].name, calls[i]["name"].get<std::string>());
    const Json args = Json::parse(got.tool_calls[i].arguments, nullptr, false);
    EXPECT_EQ(args, calls[i]["arguments"]) << got.tool_calls[i].arguments;
  }
}

TEST(ToolCallReferenceTest, ParsedCallsEqualTheRenderedOnes) {
  ASSERT_TRUE(std::filesystem::exists(kReferences))
      << kReferences << " is missing: it is written by the ctest fixture "
      << "chat_tool_call_references (node tests/e2e/tool_call_references.mjs " << kReferences
      << ")";
  const Json refs = Json::parse(testing::ReadFile(kReferences), nullptr, false);
  ASSERT_FALSE(refs.is_discarded());
  std::mt19937 rng(17);
  size_t checked = 0;
  std::vector<std::string> names;
  for (const Json& t : refs["templates"]) {
    const std::string name = t["name"].get<std::string>();
    names.push_back(name);
    auto tmpl = MakeJinjaChatTemplate(
        t["template"].get<std::string>(),
        {.bos = t["bos_token"].get<std::string>(), .eos = t["eos_token"].get<std::string>()});
    ASSERT_TRUE(tmpl.ok()) << name << ": " << tmpl.status().message();
    const OutputFormat format = (*tmpl)->output_format({});
    EXPECT_EQ(format.tool_syntax, SyntaxNamed(t["syntax"].get<std::string>())) << name;
    for (const Json& c : t["cases"]) {
      SCOPED_TRACE(name + " / " + c["name"].get<std::string>());
      ASSERT_TRUE(c.contains("output")) << c.value("error", "");
      const std::string output = UpToEndOfTurn(c["output"].get<std::string>());
      // A template without a call syntax writes no calls; nothing to parse then.
      Json expected = c["expected"];
      if (format.tool_syntax == ToolCallSyntax::kNone) expected["calls"] = Json::array();

      ChatOutputParser whole(format, FixedIds());
      whole.Feed(output);
      whole.Finish();
      ExpectReply(whole.total(), expected);

      for (int round = 0; round < 8; ++round) {
        ChatOutputParser pieces(format, FixedIds());
        ChatDelta sum;
        size_t argument_deltas = 0;
        for (size_t pos = 0; pos < output.size();) {
          const size_t n = std::uniform_int_distribution<size_t>(1, 7)(rng);
          const ChatDelta d = pieces.Feed(std::string_view(output).substr(pos, n));
          for (const ToolCallDelta& call : d.tool_calls) argument_deltas += !call.arguments.empty();
          sum.Append(d);
          pos += n;
        }
        sum.Append(pieces.Finish());
        ExpectReply(sum, expected);
        // The arguments arrive in fragments, not in one piece per call.
        if (!expected["calls"].empty()) {
          EXPECT_GT(argument_deltas, expected["calls"].size());
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"qwen3", "qwen2.5", "mistral-nemo", "deepseek-v3",
                                             "gemma3"}));
  EXPECT_GE(checked, 18u);
}

}  // namespace
}  // namespace llmux::chat
