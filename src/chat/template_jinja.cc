// The model's own chat template (the GGUF's tokenizer.chat_template), rendered by llmux_jinja
// for models without a native template. Parsed once per model; rendered per request with the
// context transformers' apply_chat_template gives a template: messages, tools,
// add_generation_prompt, bos_token, eos_token and the template kwargs.
#include <cctype>
#include <utility>

#include "chat/jinja/jinja_template.h"
#include "chat/jinja_output_format.h"
#include "chat/templates.h"
#include "chat/text_util.h"

namespace llmux::chat {
namespace {

// How tool-call arguments reach the template (chat_template.h, input normalisation).
enum class ArgumentsForm {
  kAsSent,  // the template tests `arguments is string/mapping` and handles both
  kObject,  // it writes them with `tojson` or walks their items: JSON text is parsed first
  kText,    // it concatenates them (or never reads them): an object is written as JSON text
};

// Reads the template text after each `arguments` (as in tool_call.arguments or
// tool['function']['arguments']): a test of its type wins, then a filter that needs an object.
ArgumentsForm DetectArgumentsForm(std::string_view src) {
  bool object = false;
  constexpr std::string_view kWord = "arguments";
  for (size_t p = src.find(kWord); p != std::string_view::npos; p = src.find(kWord, p + 1)) {
    size_t i = p + kWord.size();
    while (i < src.size() && (src[i] == '\'' || src[i] == '"' || src[i] == ']')) ++i;
    size_t j = i;
    while (j < src.size() && text::IsSpace(src[j])) ++j;
    std::string_view rest = src.substr(j);
    // Consumes a word (not a prefix of a longer name) and the spaces after it.
    auto eat = [&rest](std::string_view word) {
      if (!rest.starts_with(word)) return false;
      if (std::isalpha(static_cast<unsigned char>(word.back())) && rest.size() > word.size() &&
          (std::isalnum(static_cast<unsigned char>(rest[word.size()])) ||
           rest[word.size()] == '_')) {
        return false;
      }
      rest.remove_prefix(word.size());
      while (!rest.empty() && text::IsSpace(rest.front())) rest.remove_prefix(1);
      return true;
    };
    if (j > i && eat("is")) {
      eat("not");
      if (rest.starts_with("string") || rest.starts_with("mapping")) return ArgumentsForm::kAsSent;
    } else if (eat("|")) {
      object = object || rest.starts_with("tojson") || rest.starts_with("items");
    } else if (j == i && rest.starts_with(".items(")) {
      object = true;
    }
  }
  return object ? ArgumentsForm::kObject : ArgumentsForm::kText;
}

class JinjaChatTemplate : public ChatTemplate {
 public:
  JinjaChatTemplate(std::shared_ptr<const jinja::JinjaTemplate> tmpl, std::string_view source,
                    TemplateTokens tokens)
      : tmpl_(std::move(tmpl)),
        tokens_(std::move(tokens)),
        arguments_(DetectArgumentsForm(source)),
        mentions_tools_(text::Contains(source, "tools")),
        format_thinking_(DetectJinjaOutputFormat(source, /*enable_thinking=*/true)),
        format_no_thinking_(DetectJinjaOutputFormat(source, /*enable_thinking=*/false)) {}

  std::string_view name() const override { return "jinja"; }
  bool supports_tools() const override { return mentions_tools_; }
  // The reasoning block and tool-call syntax recognised in the source (jinja_output_format.h).
  bool supports_thinking() const override {
    return !format_thinking_.think_close.empty() ||
           format_thinking_.tool_syntax == ToolCallSyntax::kHarmony;
  }
  // The template is in charge of special tokens: like transformers' apply_chat_template, the
  // tokenizer adds none (no BOS unless the template writes bos_token).
  bool renders_bos() const override { return true; }
  std::string_view end_of_turn() const override { return tokens_.eos; }
  OutputFormat output_format(const RenderOptions& options) const override {
    return options.enable_thinking ? format_thinking_ : format_no_thinking_;
  }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions& options) const override {
    LLMUX_RETURN_IF_ERROR(internal::ValidateConversation(messages, tools));
    bool has_null = false;
    auto rendered = tmpl_->Render(Context(messages, tools, options, true, &has_null));
    // An empty tool-calling turn is content null (OpenAI's shape); a template that raises on
    // null gets "" instead, as the reference renderings do.
    if (!rendered.ok() && has_null) {
      rendered = tmpl_->Render(Context(messages, tools, options, false, &has_null));
    }
    // Syntax, evaluation, raise_exception and sandbox limits alike: the request cannot be
    // rendered by this template, which the client hears with the template's own message.
    if (!rendered.ok()) return InvalidArgumentError(rendered.status().message());
    return rendered;
  }

 private:
  Json Arguments(const Json& arguments) const {
    switch (arguments_) {
      case ArgumentsForm::kAsSent:
        return arguments;
      case ArgumentsForm::kObject:
        return internal::ArgumentsForToJson(arguments);
      case ArgumentsForm::kText:
        return internal::ArgumentsAsText(arguments);
    }
    return arguments;
  }

  Json MessageJson(const Message& m, bool null_content, bool* has_null) const {
    Json j = Json::object();
    j["role"] = m.role;
    if (!m.tool_calls.empty() && m.content.empty() && null_content) {
      j["content"] = nullptr;
      *has_null = true;
    } else {
      j["content"] = m.content;
    }
    if (m.reasoning_content) j["reasoning_content"] = *m.reasoning_content;
    if (!m.tool_calls.empty()) {
      Json calls = Json::array();
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", Arguments(c.arguments)}}}});
      }
      j["tool_calls"] = std::move(calls);
    }
    if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
    if (!m.name.empty()) j["name"] = m.name;
    return j;
  }

  Json Context(const std::vector<Message>& messages, const std::vector<Tool>& tools,
               const RenderOptions& options, bool null_content, bool* has_null) const {
    Json context = Json::object();
    Json& ms = context["messages"] = Json::array();
    for (const Message& m : messages) ms.push_back(MessageJson(m, null_content, has_null));
    if (tools.empty()) {
      context["tools"] = nullptr;  // transformers passes tools=None
    } else {
      Json& ts = context["tools"] = Json::array();
      for (const Tool& t : tools) ts.push_back(t.spec);
    }
    context["add_generation_prompt"] = options.add_generation_prompt;
    context["bos_token"] = tokens_.bos;
    context["eos_token"] = tokens_.eos;
    context["enable_thinking"] = options.enable_thinking;
    // Llama 3.1-style templates read date_string and default it themselves when undefined.
    if (!options.date_string.empty()) context["date_string"] = options.date_string;
    return context;
  }

  std::shared_ptr<const jinja::JinjaTemplate> tmpl_;
  TemplateTokens tokens_;
  ArgumentsForm arguments_;
  bool mentions_tools_;
  OutputFormat format_thinking_;
  OutputFormat format_no_thinking_;
};

}  // namespace

Result<std::unique_ptr<ChatTemplate>> MakeJinjaChatTemplate(std::string_view source,
                                                            TemplateTokens tokens) {
  if (source.empty()) return InvalidArgumentError("the chat template is empty");
  auto parsed = jinja::JinjaTemplate::Parse(source);
  if (!parsed.ok()) return parsed.status();
  return std::unique_ptr<ChatTemplate>(
      std::make_unique<JinjaChatTemplate>(std::move(*parsed), source, std::move(tokens)));
}

}  // namespace llmux::chat
