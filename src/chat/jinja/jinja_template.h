// A chat template in the Jinja dialect Hugging Face models ship (tokenizer.chat_template),
// rendered with the semantics of @huggingface/jinja (transformers.js), byte for byte, inside a
// sandbox (limits.h). Parse once, render many times, from any thread.
//
//   LLMUX_ASSIGN_OR_RETURN(auto tmpl, JinjaTemplate::Parse(text));
//   LLMUX_ASSIGN_OR_RETURN(std::string prompt, tmpl->Render(context));
//
// The context's keys become the template's variables: messages, tools, add_generation_prompt,
// bos_token, eos_token, enable_thinking and any other template kwargs. Errors are statuses:
// INVALID_ARGUMENT for a syntax error, an error of evaluation, or the template's own
// raise_exception (then the message is the template's text, verbatim); RESOURCE_EXHAUSTED
// when a limit is reached.
//
// Known differences from the reference (none reached by the model templates under test):
// printing a macro is an error (the reference prints its JavaScript source); a zero slice step
// and an integer division or modulo by zero are errors (it loops forever or gives NaN /
// Infinity); integers beyond 2^53 are an error instead of losing precision; upper/lower use the C
// library's simple Unicode case mapping (plus ß -> SS), not all of JavaScript's; sort_keys
// orders by bytes, not by localeCompare; a string indexed by position counts code points (the
// reference counts UTF-16 units, which differs only beyond U+FFFF).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/limits.h"

namespace llmux::chat::jinja {

class JinjaTemplate {
 public:
  static Result<std::shared_ptr<const JinjaTemplate>> Parse(std::string_view text,
                                                            JinjaLimits limits = {});

  // Objects keep their key order (it shows in tojson and in loops over dicts).
  Result<std::string> Render(const nlohmann::ordered_json& context) const;
  // The same with a key-sorted json (what nlohmann::json holds).
  Result<std::string> Render(const nlohmann::json& context) const;

  const JinjaLimits& limits() const { return limits_; }

 private:
  JinjaTemplate(NodeList program, JinjaLimits limits)
      : program_(std::move(program)), limits_(limits) {}

  NodeList program_;
  JinjaLimits limits_;
};

}  // namespace llmux::chat::jinja
