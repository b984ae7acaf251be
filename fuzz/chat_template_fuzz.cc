// libFuzzer target: the chat templates (src/chat) on a conversation decoded from the input
// (chat_fuzz_input.h), through every built-in template and its variants and a model template
// through the Jinja interpreter (MakeJinjaChatTemplate), and the output parser
// of each template on the generated text that follows the conversation.
//
// What must hold (templates.h, output_parser.h):
//  * a conversation that ValidateConversation refuses is refused by every template; one it
//    accepts is rendered, except where the Llama 3.1 template itself raises or the Jinja
//    interpreter's sandbox refuses it (InvalidArgument);
//  * every user message reaches the prompt (stripped, for the Llama templates), and so does
//    every tool definition of a template that supports tools;
//  * tojson (PyJsonDumps) writes JSON that reads back as the same value;
//  * the parsed output does not depend on how the text was split into pieces, the parser's
//    total is the sum of its deltas, every delta is valid UTF-8 when the text is, and every tool
//    call's arguments are a JSON object.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/chat_template.h"
#include "chat/py_json.h"
#include "chat/templates.h"
#include "chat/text_util.h"
#include "chat_fuzz_input.h"
#include "fuzz_check.h"
#include "json_mutator.h"

namespace {

namespace chat = llmux::chat;
using chat::Json;
using llmux::fuzz::ChatFuzzInput;

// A model template of the kind SelectChatTemplate serves through the Jinja interpreter
// (Hermes-style: tools, tool calls with tojson, reasoning, tool results, null content). It never
// raises on a valid conversation; only the interpreter's sandbox may refuse one.
constexpr std::string_view kJinjaTemplate = R"({{ bos_token }}
{%- if tools %}{{ '<tools>' }}{% for tool in tools %}{{ tool | tojson }}{% endfor %}{{ '</tools>' }}{% endif %}
{%- for m in messages %}{{ '<|' + m.role + '|>' }}
  {%- if m.reasoning_content is defined and m.reasoning_content %}<think>{{ m.reasoning_content | trim }}</think>{% endif %}
  {%- if m.content is not none %}{{ m.content }}{% endif %}
  {%- for c in m.tool_calls | default([]) %}<tool_call>{"name": {{ c.function.name | tojson }}, "arguments": {{ c.function.arguments | tojson }}}</tool_call>{% endfor %}
  {%- if m.role == 'assistant' %}{{ eos_token }}{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|assistant|>' }}{% if not enable_thinking %}<think></think>{% endif %}{% endif %})";

// Model templates whose output formats only the Jinja path recognises (jinja_output_format.h):
// Mistral's [TOOL_CALLS] list and its v11 [TOOL_CALLS]name[ARGS] calls, and gpt-oss's harmony
// channels.
constexpr std::string_view kMistralTemplate = R"({{ bos_token }}{% for m in messages %}
  {%- if m.role == 'user' %}[INST]{{ m.content }}[/INST]
  {%- elif m.tool_calls is defined %}[TOOL_CALLS][{% for c in m.tool_calls %}{{ c.function | tojson }}{% if not loop.last %}, {% endif %}{% endfor %}]{{ eos_token }}
  {%- else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %})";
constexpr std::string_view kMistralV11Template = R"({{ bos_token }}{% for m in messages %}
  {%- if m.role == 'user' %}[INST]{{ m.content }}[/INST]
  {%- elif m.tool_calls is defined %}{% for c in m.tool_calls %}[TOOL_CALLS]{{ c.function.name }}[ARGS]{{ c.function.arguments | tojson }}{% endfor %}{{ eos_token }}
  {%- else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %})";
constexpr std::string_view kHarmonyTemplate =
    R"({% for m in messages %}<|start|>{{ m.role }}
  {%- if m.role == 'assistant' %}<|channel|>final{% endif %}<|message|>{{ m.content }}<|end|>{% endfor %}
{%- if add_generation_prompt %}<|start|>assistant{% endif %})";

// Every template MakeChatTemplate knows, the variants SelectChatTemplate can pick, and a model
// template through the Jinja interpreter.
const std::vector<std::unique_ptr<chat::ChatTemplate>>& Templates() {
  static const auto* templates = [] {
    auto* all = new std::vector<std::unique_ptr<chat::ChatTemplate>>;
    for (const std::string& name : chat::ChatTemplateNames()) {
      all->push_back(std::move(chat::MakeChatTemplate(name)).value());
    }
    all->push_back(chat::internal::NewLlama3Template(/*always_generation_prompt=*/true));
    all->push_back(chat::internal::NewLlama31Template(/*strftime_date=*/true));
    all->push_back(std::move(chat::MakeJinjaChatTemplate(kJinjaTemplate, {"<s>", "</s>"})).value());
    all->push_back(
        std::move(chat::MakeJinjaChatTemplate(kMistralTemplate, {"<s>", "</s>"})).value());
    all->push_back(
        std::move(chat::MakeJinjaChatTemplate(kMistralV11Template, {"<s>", "</s>"})).value());
    all->push_back(std::move(chat::MakeJinjaChatTemplate(kHarmonyTemplate, {})).value());
    return all;
  }();
  return *templates;
}

// The interpreter's sandbox (src/chat/jinja/limits.h) refusing a conversation.
bool SandboxLimit(std::string_view why) {
  for (std::string_view limit :
       {"nests deeper than", "exceeds", "loops more than", "copies more than"}) {
    if (why.find(limit) != std::string_view::npos) return true;
  }
  return false;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void CheckPyJson(const Json& value) {
  for (int indent : {-1, 4}) {
    const std::string text = chat::PyJsonDumps(value, indent);
    const Json back = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(!back.is_discarded(), "tojson writes JSON");
    FUZZ_CHECK(back == value, "tojson reads back as the same value");
  }
}

void CheckRender(const chat::ChatTemplate& t, const ChatFuzzInput& in) {
  const llmux::Status valid = chat::internal::ValidateConversation(in.messages, in.tools);
  auto rendered = t.Render(in.messages, in.tools, in.options);
  if (!valid.ok()) {
    FUZZ_CHECK(!rendered.ok(), "a conversation ValidateConversation refuses is refused");
    return;
  }
  if (!rendered.ok()) {
    const std::string why = rendered.status().message();
    if (t.name() == "jinja") {
      FUZZ_CHECK(
          rendered.status().code() == llmux::StatusCode::kInvalidArgument && SandboxLimit(why),
          "the Jinja template refuses a valid conversation only at a sandbox limit");
      return;
    }
    FUZZ_CHECK(
        t.name() == "llama3.1" && (StartsWith(why, "This model only supports single tool-calls") ||
                                   StartsWith(why, "Cannot put tools in the first user message")),
        "only Llama 3.1's own errors refuse a valid conversation");
    return;
  }
  const std::string& prompt = *rendered;
  for (const chat::Message& m : in.messages) {
    if (m.role != "user") continue;
    FUZZ_CHECK(prompt.find(chat::text::PyStrip(m.content)) != std::string::npos,
               "every user message reaches the prompt");
  }
  // Jinja's tojson follows @huggingface/jinja (JavaScript numbers), not Python's json.dumps.
  if (t.supports_tools() && t.name() != "jinja") {
    for (const chat::Tool& tool : in.tools) {
      FUZZ_CHECK(prompt.find(chat::PyJsonDumps(tool.spec)) != std::string::npos ||
                     prompt.find(chat::PyJsonDumps(tool.spec, 4)) != std::string::npos,
                 "every tool definition reaches the prompt");
    }
  }
}

// Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    uint32_t min = 0;
    uint32_t cp = b;
    if (b >= 0x80) {
      if ((b & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = b & 0x1F;
      } else if ((b & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = b & 0x0F;
      } else if ((b & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = b & 0x07;
      } else {
        return false;
      }
      if (i + len > s.size()) return false;
      for (size_t k = 1; k < len; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return false;
        cp = (cp << 6) | (c & 0x3F);
      }
      if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    }
    i += len;
  }
  return true;
}

bool SameDelta(const chat::ChatDelta& a, const chat::ChatDelta& b) {
  if (a.reasoning != b.reasoning || a.content != b.content) return false;
  if (a.tool_calls.size() != b.tool_calls.size()) return false;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    const auto& x = a.tool_calls[i];
    const auto& y = b.tool_calls[i];
    if (x.index != y.index || x.id != y.id || x.name != y.name || x.arguments != y.arguments) {
      return false;
    }
  }
  return true;
}

// `whole`: d is a whole parse (all calls complete as far as the text went). A delta of a stream
// carries pieces of a call's arguments, so only whole parses are checked for their JSON: a
// call's arguments are a JSON object, or, when the text ended inside the call (its arguments
// are then what arrived), no complete JSON value at all.
void CheckDelta(const chat::ChatDelta& d, bool utf8_input, bool whole) {
  if (utf8_input) {
    FUZZ_CHECK(ValidUtf8(d.reasoning) && ValidUtf8(d.content),
               "every delta is valid UTF-8 when the text is");
  }
  if (!whole) return;
  for (const auto& call : d.tool_calls) {
    const Json args = Json::parse(call.arguments, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(args.is_object() || args.is_discarded(),
               "tool call arguments are a JSON object or an unfinished one");
  }
}

chat::ParserOptions Options(bool tools) {
  chat::ParserOptions o;
  o.parse_tool_calls = tools;
  o.make_call_id = [n = 0]() mutable { return "call_" + std::to_string(n++); };
  return o;
}

void CheckParser(const chat::ChatTemplate& t, const ChatFuzzInput& in) {
  const bool tools = !in.tools.empty();
  const bool utf8 = ValidUtf8(in.output);
  auto whole = t.MakeParser(in.options, Options(tools));
  chat::ChatDelta all = whole->Feed(in.output);
  all.Append(whole->Finish());
  CheckDelta(all, utf8, /*whole=*/true);

  auto pieces = t.MakeParser(in.options, Options(tools));
  chat::ChatDelta sum;
  size_t pos = 0;
  for (size_t k = 0; pos < in.output.size(); ++k) {
    const size_t n = std::min(in.pieces[k % in.pieces.size()], in.output.size() - pos);
    const chat::ChatDelta d = pieces->Feed(std::string_view(in.output).substr(pos, n));
    CheckDelta(d, utf8, /*whole=*/false);
    sum.Append(d);
    pos += n;
  }
  const chat::ChatDelta last = pieces->Finish();
  CheckDelta(last, utf8, /*whole=*/false);
  sum.Append(last);
  FUZZ_CHECK(SameDelta(sum, pieces->total()), "the parser's total is the sum of its deltas");
  FUZZ_CHECK(SameDelta(sum, all), "the parse does not depend on how the text was split");
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in =
      llmux::fuzz::DecodeChatFuzzInput(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!in) return 0;
  for (const chat::Tool& tool : in->tools) CheckPyJson(tool.spec);
  for (const chat::Message& m : in->messages) {
    for (const chat::ToolCall& call : m.tool_calls) CheckPyJson(call.arguments);
  }
  // The variants share their base template's output format; Jinja templates differ by theirs.
  std::set<std::pair<std::string_view, chat::ToolCallSyntax>> parsed;
  for (const auto& t : Templates()) {
    CheckRender(*t, *in);
    if (parsed.insert({t->name(), t->output_format(in->options).tool_syntax}).second) {
      CheckParser(*t, *in);
    }
  }
  return 0;
}
