// Chat templates: native ones, each rendering byte for byte what the model's own Jinja chat
// template renders (as Hugging Face transformers' apply_chat_template does) for the same
// messages, tools and options, and "jinja", the model's own template through llmux_jinja
// (template_jinja.cc) for every other template.
//
// Templates (name(): source they follow). Those marked * are checked byte for byte against
// the real template rendered by @huggingface/jinja (tests/chat, tests/e2e/chat_references.mjs),
// Qwen3 against ../shared/vectors/chat-template-qwen3.json:
//   "qwen3"       * Qwen3 (tokenizer_config.json chat_template with thinking support)
//   "qwen2.5"     * Qwen2.5-Instruct (default system prompt, Hermes-style tools)
//   "chatml"      plain ChatML loop (<|im_start|>role\n...<|im_end|>\n), no tools; by name only
//                 (a GGUF's other ChatML templates render through Jinja)
//   "llama3"      * Llama 3 Instruct (no tools); the first revision of the template, which
//                 always ends with the assistant header, is recognised by its text
//   "llama3.1"    * Llama 3.1 / 3.2 / 3.3 Instruct: tools in the first user message (the
//                 template's default, tools_in_user_message=true), Environment: ipython
//   "deepseek-v3" * DeepSeek-V3 (its tokenizer_config.json template; no tool definitions)
//   "deepseek-r1" the later R1 template: content before tool calls, reasoning cut from earlier
//                 turns, "<think>\n" after the generation prompt (hand-checked only)
//   "jinja"       * any other template in a GGUF, as it is, through llmux_jinja (Gemma 3 and
//                 Llama 2 are checked; MakeJinjaChatTemplate below); the template is in charge
//                 of special tokens (renders_bos() is true: no BOS is added, as in transformers)
//   "plain"       no template (stories260K): the contents of the messages joined with "\n",
//                 nothing else (no roles, no generation prompt, no BOS text; the tokenizer
//                 adds BOS as for a completion)
//
// Input normalisation (the serving layer's job, documented here because it is what the
// templates assume, and what the reference renderings apply before Jinja): text parts joined;
// content null -> "", except that an assistant message with tool_calls and empty content is
// "content none" for templates that test for it (deepseek-v3) and "" for the others (Qwen3's
// template raises on none); tool-call arguments in the form the template consumes:
//  * qwen2.5 and llama3.1 render arguments with `tojson`; a JSON string there (OpenAI's shape)
//    is parsed to an object first, as vLLM and llama.cpp do (a string that is not JSON stays a
//    string);
//  * deepseek-* concatenate the arguments as text; an object there is written with `tojson`.
// Deliberate refusals where Jinja would render something: a role other than
// system/user/assistant/tool, tool_calls on a non-assistant message, an empty message list or
// a tool spec that is not a JSON object -> InvalidArgument.
// Where a template raises (llama3.1: several tool calls in one message, tools without a
// message to put them in) Render returns InvalidArgument with the template's message.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/chat_types.h"
#include "chat/output_format.h"
#include "chat/output_parser.h"

namespace llmux::chat {

class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;

  virtual std::string_view name() const = 0;
  // Tool definitions reach the prompt (tools given to other templates are ignored, as their
  // Jinja templates ignore them).
  virtual bool supports_tools() const = 0;
  // The model writes a reasoning block that the parser returns as reasoning.
  virtual bool supports_thinking() const = 0;
  // The rendered text starts with the BOS token's text: tokenize it with special-token
  // parsing and without adding another BOS.
  virtual bool renders_bos() const { return false; }
  // The text of the token that ends an assistant turn ("" for plain).
  virtual std::string_view end_of_turn() const = 0;

  virtual Result<std::string> Render(const std::vector<Message>& messages,
                                     const std::vector<Tool>& tools,
                                     const RenderOptions& options) const = 0;

  // How the model marks reasoning and tool calls in its output, for a prompt rendered
  // with `options` (Qwen3 with enable_thinking=false has no reasoning block).
  virtual OutputFormat output_format(const RenderOptions& options) const = 0;

  // A parser for one request's output.
  std::unique_ptr<ChatOutputParser> MakeParser(const RenderOptions& options,
                                               ParserOptions parser_options = {}) const;
};

// The text of the model's special tokens, for templates that write them (bos_token,
// eos_token): the GGUF's tokenizer.ggml.bos_token_id / eos_token_id as text ("" if none).
struct TemplateTokens {
  std::string bos;
  std::string eos;
};

// Picks the template for a model. A GGUF with a chat template: a native template where its
// text is recognised (distinctive substrings: Qwen3's <think> handling or Qwen2.5's default
// system prompt with ChatML tags, Llama 3 header tokens, DeepSeek's <｜Assistant｜>), else the
// template itself through the Jinja interpreter (MakeJinjaChatTemplate), other ChatML
// templates included ("chatml" is only chosen by name). Without a template,
// or when it does not parse (logged with the reason): by architecture (qwen3/qwen3moe ->
// qwen3, qwen2/qwen2moe -> qwen2.5, deepseek2/deepseek3 -> deepseek-v3), else plain
// (stories260K).
Result<std::unique_ptr<ChatTemplate>> SelectChatTemplate(std::string_view architecture,
                                                         std::string_view jinja_source,
                                                         const TemplateTokens& tokens = {});

// The model's own template (tokenizer.chat_template) rendered by llmux_jinja, name() "jinja":
// parsed here (InvalidArgument or ResourceExhausted when it does not parse), rendered per
// request with messages (normalised as above: null content for an empty tool-calling turn,
// "" if the template raises on it; arguments as objects where the template applies tojson or
// items to them, as text where it concatenates them, as sent where it tests their type),
// tools (null when none), add_generation_prompt, bos_token, eos_token, enable_thinking and
// date_string (when set); strftime_now is a builtin. Its errors are InvalidArgument with the
// template's message. Its output format is recognised from the source
// (jinja_output_format.h: Hermes <tool_call>, Mistral [TOOL_CALLS], gpt-oss harmony, <think>).
Result<std::unique_ptr<ChatTemplate>> MakeJinjaChatTemplate(std::string_view source,
                                                            TemplateTokens tokens = {});

// A template by name() (tests, an explicit --chat-template choice). NotFound for others.
Result<std::unique_ptr<ChatTemplate>> MakeChatTemplate(std::string_view name);

// The names MakeChatTemplate accepts.
std::vector<std::string> ChatTemplateNames();

}  // namespace llmux::chat
