// Llama 3 and Llama 3.1 (also 3.2 / 3.3) Instruct templates.
#include <ctime>

#include "chat/py_json.h"
#include "chat/templates.h"
#include "chat/text_util.h"

namespace llmux::chat::internal {
namespace {

constexpr std::string_view kBos = "<|begin_of_text|>";

std::string Header(std::string_view role) {
  return "<|start_header_id|>" + std::string(role) + "<|end_header_id|>\n\n";
}

// Each message as header + trimmed content + <|eot_id|>, BOS before the first, then the
// assistant header: only with add_generation_prompt in later revisions of the template, always
// in Meta-Llama-3-8B-Instruct's first one (always_generation_prompt).
class Llama3Template : public ChatTemplate {
 public:
  explicit Llama3Template(bool always_generation_prompt)
      : always_generation_prompt_(always_generation_prompt) {}

  std::string_view name() const override { return "llama3"; }
  bool supports_tools() const override { return false; }
  bool supports_thinking() const override { return false; }
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return "<|eot_id|>"; }
  OutputFormat output_format(const RenderOptions&) const override { return {}; }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i == 0) out += kBos;
      out += Header(messages[i].role);
      out += text::PyStrip(messages[i].content);
      out += "<|eot_id|>";
    }
    if (options.add_generation_prompt || always_generation_prompt_) out += Header("assistant");
    return out;
  }

 private:
  bool always_generation_prompt_;
};

// The Llama 3.1 template with its defaults: tools_in_user_message=true, no builtin_tools,
// date_string "26 Jul 2024" (or strftime_now("%d %b %Y") in the Llama 3.2 variant).
class Llama31Template : public ChatTemplate {
 public:
  explicit Llama31Template(bool strftime_date) : strftime_date_(strftime_date) {}

  std::string_view name() const override { return "llama3.1"; }
  bool supports_tools() const override { return true; }
  bool supports_thinking() const override { return false; }
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return "<|eot_id|>"; }

  OutputFormat output_format(const RenderOptions&) const override {
    OutputFormat f;
    f.tool_syntax = ToolCallSyntax::kBareJson;
    return f;
  }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    const bool has_tools = !tools.empty();
    std::string out(kBos);
    size_t next = 0;
    std::string_view system_message;
    if (messages[0].role == "system") {
      system_message = text::PyStrip(messages[0].content);
      next = 1;
    }
    out += Header("system");
    if (has_tools) out += "Environment: ipython\n";
    out += "Cutting Knowledge Date: December 2023\n";
    out += "Today Date: " + DateString(options) + "\n\n";
    out += system_message;
    out += "<|eot_id|>";
    if (has_tools) {
      // The tool list goes into the first remaining message, whatever its role.
      if (next >= messages.size()) {
        return InvalidArgumentError(
            "Cannot put tools in the first user message when there's no first user message!");
      }
      const std::string_view first_user_message = text::PyStrip(messages[next].content);
      ++next;
      out += Header("user");
      out +=
          "Given the following functions, please respond with a JSON for a function call "
          "with its proper arguments that best answers the given prompt.\n\n"
          "Respond in the format {\"name\": function name, \"parameters\": dictionary of "
          "argument name and its value}.Do not use variables.\n\n";
      for (const Tool& tool : tools) {
        out += PyJsonDumps(tool.spec, /*indent=*/4);
        out += "\n\n";
      }
      out += first_user_message;
      out += "<|eot_id|>";
    }
    for (size_t i = next; i < messages.size(); ++i) {
      const Message& m = messages[i];
      if (m.role != "tool" && m.tool_calls.empty()) {
        out += Header(m.role);
        out += text::PyStrip(m.content);
        out += "<|eot_id|>";
      } else if (!m.tool_calls.empty()) {
        if (m.tool_calls.size() != 1) {
          return InvalidArgumentError("This model only supports single tool-calls at once!");
        }
        const ToolCall& call = m.tool_calls[0];
        out += Header("assistant");
        out += "{\"name\": \"" + call.name + "\", \"parameters\": ";
        out += PyJsonDumps(ArgumentsForToJson(call.arguments));
        out += "}<|eot_id|>";
      } else {
        // `message.content is iterable` holds for strings, so the content goes through tojson.
        out += Header("ipython");
        out += PyJsonDumps(Json(m.content));
        out += "<|eot_id|>";
      }
    }
    if (options.add_generation_prompt) out += Header("assistant");
    return out;
  }

 private:
  std::string DateString(const RenderOptions& options) const {
    if (!options.date_string.empty()) return options.date_string;
    if (!strftime_date_) return "26 Jul 2024";
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%d %b %Y", &tm);
    return buf;
  }

  bool strftime_date_;
};

}  // namespace

std::unique_ptr<ChatTemplate> NewLlama3Template(bool always_generation_prompt) {
  return std::make_unique<Llama3Template>(always_generation_prompt);
}
std::unique_ptr<ChatTemplate> NewLlama31Template(bool strftime_date) {
  return std::make_unique<Llama31Template>(strftime_date);
}

}  // namespace llmux::chat::internal
