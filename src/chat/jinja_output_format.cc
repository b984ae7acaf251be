#include "chat/jinja_output_format.h"

#include "chat/text_util.h"

namespace llmux::chat {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

// The generation prompt opens a reasoning block: after the template's last mention of
// add_generation_prompt it writes <think> but no </think>.
bool PromptOpensThink(std::string_view source) {
  const size_t at = source.rfind("add_generation_prompt");
  if (at == std::string_view::npos) return false;
  const std::string_view tail = source.substr(at);
  return text::Contains(tail, kThinkOpen) && !text::Contains(tail, kThinkClose);
}

}  // namespace

OutputFormat DetectJinjaOutputFormat(std::string_view source, bool enable_thinking) {
  OutputFormat f;
  if (text::Contains(source, "<|channel|>") && text::Contains(source, "<|message|>")) {
    f.tool_syntax = ToolCallSyntax::kHarmony;
    return f;
  }
  if (text::Contains(source, "[TOOL_CALLS]") && text::Contains(source, "[ARGS]")) {
    f.tool_syntax = ToolCallSyntax::kNameArgs;
    f.tool_open = "[TOOL_CALLS]";
    f.tool_args = "[ARGS]";
  } else if (text::Contains(source, "[TOOL_CALLS]")) {
    f.tool_syntax = ToolCallSyntax::kJsonArray;
    f.tool_open = "[TOOL_CALLS]";
  } else if (text::Contains(source, "<｜tool▁calls▁begin｜>")) {
    f.tool_syntax = ToolCallSyntax::kDeepSeek;
    f.tool_open = "<｜tool▁call▁begin｜>";
    f.tool_close = "<｜tool▁call▁end｜>";
    f.tool_section_tags = {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"};
  } else if (text::Contains(source, "<tool_call>") && text::Contains(source, "</tool_call>")) {
    f.tool_syntax = ToolCallSyntax::kJsonInTags;
    f.tool_open = "<tool_call>";
    f.tool_close = "</tool_call>";
  } else if (text::Contains(source, "<|start_header_id|>") &&
             (text::Contains(source, "<|python_tag|>") ||
              text::Contains(source, "\"parameters\": "))) {
    f.tool_syntax = ToolCallSyntax::kBareJson;  // Llama 3.1-style
  }
  const bool thinking_off = !enable_thinking && text::Contains(source, "enable_thinking");
  if (!thinking_off && text::Contains(source, kThinkOpen) && text::Contains(source, kThinkClose)) {
    f.think_open = kThinkOpen;
    f.think_close = kThinkClose;
    f.starts_in_think = PromptOpensThink(source);
  }
  return f;
}

}  // namespace llmux::chat
