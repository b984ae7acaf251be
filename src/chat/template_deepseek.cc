// DeepSeek chat templates.
//
// "deepseek-v3": the template DeepSeek-V3 ships in tokenizer_config.json (checked against it by
// tests/chat). It keeps its quirks, since they are what the model saw:
//  * an assistant message calls tools only when its content is none (an empty tool-calling turn
//    here: the serving layer maps an empty content with tool_calls to none); one with text keeps
//    the text and loses its calls;
//  * the first call of the conversation opens <｜Assistant｜><｜tool▁calls▁begin｜>; every later
//    call is followed by <｜tool▁calls▁end｜><｜end▁of▁sentence｜>, a lone first call by nothing;
//  * is_first and is_output_first are set once for the whole conversation and never reset;
//  * assistant text is not stripped of reasoning.
//
// "deepseek-r1": the later template with content before the calls, one closing per tool-calling
// turn, reasoning cut from earlier turns and "<think>\n" after the generation prompt. No npm
// package ships that template, so it is checked only against hand-derived strings.
#include "chat/templates.h"
#include "chat/text_util.h"

namespace llmux::chat::internal {
namespace {

constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view kUser = "<｜User｜>";
constexpr std::string_view kAssistant = "<｜Assistant｜>";
constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
constexpr std::string_view kCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kSep = "<｜tool▁sep｜>";
constexpr std::string_view kOutputsBegin = "<｜tool▁outputs▁begin｜>";
constexpr std::string_view kOutputsEnd = "<｜tool▁outputs▁end｜>";
constexpr std::string_view kOutputBegin = "<｜tool▁output▁begin｜>";
constexpr std::string_view kOutputEnd = "<｜tool▁output▁end｜>";

std::string CallText(const ToolCall& call) {
  std::string s(kCallBegin);
  s += "function";  // tool['type']
  s += kSep;
  s += call.name;
  s += "\n```json\n";
  s += ArgumentsAsText(call.arguments);
  s += "\n```";
  s += kCallEnd;
  return s;
}

// The later R1 template (see the top of the file).
class DeepSeekR1Template : public ChatTemplate {
 public:
  std::string_view name() const override { return "deepseek-r1"; }
  bool supports_tools() const override { return false; }  // tool definitions are not rendered
  bool supports_thinking() const override { return true; }
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return kEos; }

  OutputFormat output_format(const RenderOptions&) const override {
    OutputFormat f;
    f.think_open = "<think>";
    f.think_close = "</think>";
    f.starts_in_think = true;
    f.tool_syntax = ToolCallSyntax::kDeepSeek;
    f.tool_open = std::string(kCallBegin);
    f.tool_close = std::string(kCallEnd);
    f.tool_section_tags = {std::string(kCallsBegin), std::string(kCallsEnd)};
    return f;
  }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string system_prompt;
    bool first_system = true;
    for (const Message& m : messages) {
      if (m.role != "system") continue;
      if (!first_system) system_prompt += "\n\n";
      system_prompt += m.content;
      first_system = false;
    }
    std::string out(kBos);
    out += system_prompt;
    bool is_first = false;  // ns.is_first: a tool call was rendered before
    bool is_tool = false;   // ns.is_tool: inside tool outputs
    bool is_output_first = true;
    for (const Message& m : messages) {
      if (m.role == "user") {
        is_tool = false;
        out += kUser;
        out += m.content;
      } else if (m.role == "assistant" && !m.tool_calls.empty()) {
        is_tool = false;
        for (const ToolCall& call : m.tool_calls) {
          if (!is_first) {
            out += kAssistant;
            out += m.content;  // null content is "", which renders the same
            out += kCallsBegin;
            out += CallText(call);
            is_first = true;
          } else {
            out += "\n";
            out += CallText(call);
          }
        }
        out += kCallsEnd;
        out += kEos;
      } else if (m.role == "assistant") {
        if (is_tool) {
          out += kOutputsEnd;
          out += m.content;
          out += kEos;
          is_tool = false;
        } else {
          out += kAssistant;
          out += text::AfterLast(m.content, "</think>");
          out += kEos;
        }
      } else if (m.role == "tool") {
        is_tool = true;
        if (is_output_first) {
          out += kOutputsBegin;
          is_output_first = false;
        }
        out += kOutputBegin;
        out += m.content;
        out += kOutputEnd;
      }
    }
    if (is_tool) out += kOutputsEnd;
    if (options.add_generation_prompt && !is_tool) {
      out += kAssistant;
      out += "<think>\n";
    }
    return out;
  }
};

// The DeepSeek-V3 template, statement by statement (see the top of the file).
class DeepSeekV3Template : public ChatTemplate {
 public:
  std::string_view name() const override { return "deepseek-v3"; }
  bool supports_tools() const override { return false; }  // tool definitions are not rendered
  bool supports_thinking() const override { return false; }
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return kEos; }

  OutputFormat output_format(const RenderOptions&) const override {
    OutputFormat f;
    f.tool_syntax = ToolCallSyntax::kDeepSeek;
    f.tool_open = std::string(kCallBegin);
    f.tool_close = std::string(kCallEnd);
    f.tool_section_tags = {std::string(kCallsBegin), std::string(kCallsEnd)};
    return f;
  }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string out(kBos);
    bool first_system = true;
    for (const Message& m : messages) {
      if (m.role != "system") continue;
      if (!first_system) out += "\n\n";
      out += m.content;
      first_system = false;
    }
    bool is_first = false;
    bool is_tool = false;
    bool is_output_first = true;
    for (const Message& m : messages) {
      const bool content_is_none =
          m.role == "assistant" && !m.tool_calls.empty() && m.content.empty();
      if (m.role == "user") {
        is_tool = false;
        out += kUser;
        out += m.content;
      } else if (content_is_none) {
        is_tool = false;
        for (const ToolCall& call : m.tool_calls) {
          if (!is_first) {
            out += kAssistant;
            out += kCallsBegin;
            out += CallText(call);
            is_first = true;
          } else {
            out += "\n";
            out += CallText(call);
            out += kCallsEnd;
            out += kEos;
          }
        }
      } else if (m.role == "assistant") {
        if (is_tool) {
          out += kOutputsEnd;
          is_tool = false;
        } else {
          out += kAssistant;
        }
        out += m.content;
        out += kEos;
      } else if (m.role == "tool") {
        is_tool = true;
        if (is_output_first) {
          out += kOutputsBegin;
          is_output_first = false;
        } else {
          out += "\n";
        }
        out += kOutputBegin;
        out += m.content;
        out += kOutputEnd;
      }
    }
    if (is_tool) out += kOutputsEnd;
    if (options.add_generation_prompt && !is_tool) out += kAssistant;
    return out;
  }
};

}  // namespace

std::unique_ptr<ChatTemplate> NewDeepSeekV3Template() {
  return std::make_unique<DeepSeekV3Template>();
}
std::unique_ptr<ChatTemplate> NewDeepSeekR1Template() {
  return std::make_unique<DeepSeekR1Template>();
}

}  // namespace llmux::chat::internal
