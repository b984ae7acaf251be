#include "chat/chat_template.h"

#include "base/json_nesting.h"
#include "base/log.h"
#include "chat/py_json.h"
#include "chat/templates.h"
#include "chat/text_util.h"

namespace llmux::chat {

std::unique_ptr<ChatOutputParser> ChatTemplate::MakeParser(const RenderOptions& options,
                                                           ParserOptions parser_options) const {
  return std::make_unique<ChatOutputParser>(output_format(options), std::move(parser_options));
}

namespace internal {

Status ValidateConversation(const std::vector<Message>& messages, const std::vector<Tool>& tools) {
  if (messages.empty()) return InvalidArgumentError("messages must contain at least one message");
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
      return InvalidArgumentError("messages[" + std::to_string(i) + "]: unknown role '" + m.role +
                                  "' (expected system, user, assistant or tool)");
    }
    if (!m.tool_calls.empty() && m.role != "assistant") {
      return InvalidArgumentError("messages[" + std::to_string(i) +
                                  "]: only assistant messages can carry tool_calls");
    }
  }
  for (size_t i = 0; i < tools.size(); ++i) {
    if (!tools[i].spec.is_object()) {
      return InvalidArgumentError("tools[" + std::to_string(i) + "] must be a JSON object");
    }
  }
  return Status::Ok();
}

Json ArgumentsForToJson(const Json& arguments) {
  if (!arguments.is_string()) return arguments;
  const auto& s = arguments.get_ref<const std::string&>();
  if (!JsonNestingWithin(s)) return arguments;  // kept as text, as any other non-JSON arguments
  Json parsed = Json::parse(s.begin(), s.end(), nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? arguments : parsed;
}

std::string ArgumentsAsText(const Json& arguments) {
  if (arguments.is_string()) return arguments.get<std::string>();
  return PyJsonDumps(arguments);
}

}  // namespace internal

namespace {

// A native template recognised by the text of the model's template, or null.
std::unique_ptr<ChatTemplate> NativeForText(std::string_view src) {
  using text::Contains;
  if (Contains(src, "<|im_start|>")) {
    if (Contains(src, "<think>")) return internal::NewQwen3Template();
    if (Contains(src, "You are Qwen, created by Alibaba Cloud.")) {
      return internal::NewQwen25Template();
    }
    // Other ChatML templates differ in what matters (default system prompts, tools, trimming):
    // the model's own is rendered, not the bare "chatml" loop.
    return nullptr;
  }
  if (Contains(src, "<|start_header_id|>")) {
    if (Contains(src, "Cutting Knowledge Date")) {
      return internal::NewLlama31Template(/*strftime_date=*/Contains(src, "strftime_now"));
    }
    return internal::NewLlama3Template(
        /*always_generation_prompt=*/!Contains(src, "add_generation_prompt"));
  }
  if (Contains(src, "<｜Assistant｜>")) {
    if (Contains(src, "<｜Assistant｜><think>")) return internal::NewDeepSeekR1Template();
    return internal::NewDeepSeekV3Template();
  }
  return nullptr;
}

// Without a usable template of the model's own: by architecture, else plain.
std::unique_ptr<ChatTemplate> ForArchitecture(std::string_view architecture) {
  if (architecture == "qwen3" || architecture == "qwen3moe") return internal::NewQwen3Template();
  if (architecture == "qwen2" || architecture == "qwen2moe") return internal::NewQwen25Template();
  if (architecture == "deepseek2" || architecture == "deepseek3") {
    return internal::NewDeepSeekV3Template();
  }
  return internal::NewPlainTemplate();
}

}  // namespace

Result<std::unique_ptr<ChatTemplate>> SelectChatTemplate(std::string_view architecture,
                                                         std::string_view jinja_source,
                                                         const TemplateTokens& tokens) {
  if (jinja_source.empty()) {
    auto fallback = ForArchitecture(architecture);
    spdlog::info("the model file has no chat template; prompts use the '{}' template",
                 fallback->name());
    return fallback;
  }
  if (auto native = NativeForText(jinja_source)) return native;
  auto jinja = MakeJinjaChatTemplate(jinja_source, tokens);
  if (jinja.ok()) {
    // Served as it is even so (each request gets the template's own error), but an operator
    // should hear at load that it cannot render the simplest conversation.
    Message hello;
    hello.role = "user";
    hello.content = "Hello";
    auto probe = (*jinja)->Render({hello}, {}, RenderOptions{});
    if (!probe.ok()) {
      spdlog::warn("the model's chat template fails on a one-message conversation: {}",
                   probe.status().message());
    }
    return jinja;
  }
  auto fallback = ForArchitecture(architecture);
  spdlog::warn("the model's chat template does not parse ({}); prompts use the '{}' template",
               jinja.status().ToString(), fallback->name());
  return fallback;
}

Result<std::unique_ptr<ChatTemplate>> MakeChatTemplate(std::string_view name) {
  if (name == "qwen3") return internal::NewQwen3Template();
  if (name == "qwen2.5") return internal::NewQwen25Template();
  if (name == "chatml") return internal::NewChatMLTemplate();
  if (name == "llama3") return internal::NewLlama3Template(/*always_generation_prompt=*/false);
  if (name == "llama3.1") return internal::NewLlama31Template(/*strftime_date=*/false);
  if (name == "deepseek-v3") return internal::NewDeepSeekV3Template();
  if (name == "deepseek-r1") return internal::NewDeepSeekR1Template();
  if (name == "plain") return internal::NewPlainTemplate();
  return NotFoundError("unknown chat template '" + std::string(name) + "'");
}

std::vector<std::string> ChatTemplateNames() {
  return {"qwen3", "qwen2.5", "chatml", "llama3", "llama3.1", "deepseek-v3", "deepseek-r1",
          "plain"};
}

}  // namespace llmux::chat
