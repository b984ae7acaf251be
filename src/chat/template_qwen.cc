// ChatML-family templates: Qwen3, Qwen2.5 and the plain ChatML loop. Each Render follows its
// Jinja template statement by statement (comments name the template's variables).
#include "chat/py_json.h"
#include "chat/templates.h"
#include "chat/text_util.h"

namespace llmux::chat::internal {
namespace {

constexpr std::string_view kToolsIntro =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
constexpr std::string_view kToolsOutro =
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
constexpr std::string_view kQwen25DefaultSystem =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

void AppendToolList(std::string& out, const std::vector<Tool>& tools) {
  for (const Tool& tool : tools) {
    out += '\n';
    out += PyJsonDumps(tool.spec);
  }
}

// Consecutive tool messages share one user turn, each in <tool_response> tags.
void AppendToolResponse(std::string& out, const std::vector<Message>& messages, size_t i) {
  if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n";
  out += messages[i].content;
  out += "\n</tool_response>";
  if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
}

OutputFormat QwenToolFormat() {
  OutputFormat f;
  f.tool_syntax = ToolCallSyntax::kJsonInTags;
  f.tool_open = "<tool_call>";
  f.tool_close = "</tool_call>";
  return f;
}

class Qwen3Template : public ChatTemplate {
 public:
  std::string_view name() const override { return "qwen3"; }
  bool supports_tools() const override { return true; }
  bool supports_thinking() const override { return true; }
  std::string_view end_of_turn() const override { return "<|im_end|>"; }

  OutputFormat output_format(const RenderOptions& options) const override {
    OutputFormat f = QwenToolFormat();
    if (options.enable_thinking) {
      f.think_open = "<think>";
      f.think_close = "</think>";
    }
    return f;
  }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    using namespace text;
    std::string out;
    const size_t n = messages.size();
    if (!tools.empty()) {
      out += "<|im_start|>system\n";
      if (messages[0].role == "system") out += messages[0].content + "\n\n";
      out += kToolsIntro;
      AppendToolList(out, tools);
      out += kToolsOutro;
    } else if (messages[0].role == "system") {
      out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    }
    // ns.last_query_index: the last user message that is not a wrapped tool response.
    size_t last_query_index = n - 1;
    for (size_t i = n; i-- > 0;) {
      const Message& m = messages[i];
      const std::string_view c = m.content;
      const bool wrapped_response = c.substr(0, 15) == "<tool_response>" && c.size() >= 16 &&
                                    c.substr(c.size() - 16) == "</tool_response>";
      if (m.role == "user" && !wrapped_response) {
        last_query_index = i;
        break;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const Message& m = messages[i];
      const bool last = i + 1 == n;
      if (m.role == "user" || (m.role == "system" && i != 0)) {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      } else if (m.role == "assistant") {
        std::string_view content = m.content;
        std::string_view reasoning;
        if (m.reasoning_content.has_value()) {
          reasoning = *m.reasoning_content;
        } else if (Contains(m.content, "</think>")) {
          content = LStripNewlines(AfterLast(m.content, "</think>"));
          reasoning =
              LStripNewlines(AfterLast(RStripNewlines(BeforeFirst(m.content, "</think>")), "<think>"));
        }
        out += "<|im_start|>" + m.role + "\n";
        if (i > last_query_index && (last || !reasoning.empty())) {
          out += "<think>\n";
          out += StripNewlines(reasoning);
          out += "\n</think>\n\n";
          out += LStripNewlines(content);
        } else {
          out += content;
        }
        for (size_t j = 0; j < m.tool_calls.size(); ++j) {
          const ToolCall& call = m.tool_calls[j];
          if ((j == 0 && !content.empty()) || j > 0) out += '\n';
          out += "<tool_call>\n{\"name\": \"" + call.name + "\", \"arguments\": ";
          out += call.arguments.is_string() ? call.arguments.get<std::string>()
                                            : PyJsonDumps(call.arguments);
          out += "}\n</tool_call>";
        }
        out += "<|im_end|>\n";
      } else if (m.role == "tool") {
        AppendToolResponse(out, messages, i);
      }
    }
    if (options.add_generation_prompt) {
      out += "<|im_start|>assistant\n";
      if (!options.enable_thinking) out += "<think>\n\n</think>\n\n";
    }
    return out;
  }
};

class Qwen25Template : public ChatTemplate {
 public:
  std::string_view name() const override { return "qwen2.5"; }
  bool supports_tools() const override { return true; }
  bool supports_thinking() const override { return false; }
  std::string_view end_of_turn() const override { return "<|im_end|>"; }
  OutputFormat output_format(const RenderOptions&) const override { return QwenToolFormat(); }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string out;
    const size_t n = messages.size();
    const bool has_system = messages[0].role == "system";
    if (!tools.empty()) {
      out += "<|im_start|>system\n";
      out += has_system ? std::string_view(messages[0].content) : kQwen25DefaultSystem;
      out += "\n\n";
      out += kToolsIntro;
      AppendToolList(out, tools);
      out += kToolsOutro;
    } else {
      out += "<|im_start|>system\n";
      out += has_system ? std::string_view(messages[0].content) : kQwen25DefaultSystem;
      out += "<|im_end|>\n";
    }
    for (size_t i = 0; i < n; ++i) {
      const Message& m = messages[i];
      if (m.role == "user" || (m.role == "system" && i != 0) ||
          (m.role == "assistant" && m.tool_calls.empty())) {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      } else if (m.role == "assistant") {
        out += "<|im_start|>" + m.role;
        if (!m.content.empty()) out += "\n" + m.content;
        for (const ToolCall& call : m.tool_calls) {
          out += "\n<tool_call>\n{\"name\": \"" + call.name + "\", \"arguments\": ";
          out += PyJsonDumps(ArgumentsForToJson(call.arguments));
          out += "}\n</tool_call>";
        }
        out += "<|im_end|>\n";
      } else if (m.role == "tool") {
        AppendToolResponse(out, messages, i);
      }
    }
    if (options.add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
};

// {% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']
// + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n'
// }}{% endif %}
class ChatMLTemplate : public ChatTemplate {
 public:
  std::string_view name() const override { return "chatml"; }
  bool supports_tools() const override { return false; }
  bool supports_thinking() const override { return false; }
  std::string_view end_of_turn() const override { return "<|im_end|>"; }
  OutputFormat output_format(const RenderOptions&) const override { return {}; }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string out;
    for (const Message& m : messages) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    }
    if (options.add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
};

}  // namespace

std::unique_ptr<ChatTemplate> NewQwen3Template() { return std::make_unique<Qwen3Template>(); }
std::unique_ptr<ChatTemplate> NewQwen25Template() { return std::make_unique<Qwen25Template>(); }
std::unique_ptr<ChatTemplate> NewChatMLTemplate() { return std::make_unique<ChatMLTemplate>(); }

}  // namespace llmux::chat::internal
