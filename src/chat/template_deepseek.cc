// DeepSeek-V3 (the V3-0324 tokenizer_config.json template) and its R1-0528 sibling, which
// only adds "<think>\n" after the generation prompt.
//
// The template keeps two flags for the whole conversation that it never resets: is_first
// (only the first tool-calling assistant message of the conversation opens with
// <｜Assistant｜>...<｜tool▁calls▁begin｜>) and is_output_first (only the first tool message
// opens <｜tool▁outputs▁begin｜>). Rendering reproduces that.
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

class DeepSeekV3Template : public ChatTemplate {
 public:
  explicit DeepSeekV3Template(bool r1) : r1_(r1) {}

  std::string_view name() const override { return r1_ ? "deepseek-r1" : "deepseek-v3"; }
  bool supports_tools() const override { return false; }  // tool definitions are not rendered
  bool supports_thinking() const override { return r1_; }
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return kEos; }

  OutputFormat output_format(const RenderOptions&) const override {
    OutputFormat f;
    if (r1_) {
      f.think_open = "<think>";
      f.think_close = "</think>";
      f.starts_in_think = true;
    }
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
      if (r1_) out += "<think>\n";
    }
    return out;
  }

 private:
  bool r1_;
};

}  // namespace

std::unique_ptr<ChatTemplate> NewDeepSeekV3Template(bool r1_think_prompt) {
  return std::make_unique<DeepSeekV3Template>(r1_think_prompt);
}

}  // namespace llmux::chat::internal
