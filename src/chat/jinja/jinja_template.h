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
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/limits.h"

namespace llmux::chat::jinja {

class JinjaTemplate {
 public:
  static Result<std::shared_ptr<const JinjaTemplate>> Parse(std::string_view text, JinjaLimits limits = {});

  // Objects keep their key order (it shows in tojson and in loops over dicts).
  Result<std::string> Render(const nlohmann::ordered_json& context) const;
  // The same with a key-sorted json (what nlohmann::json holds).
  Result<std::string> Render(const nlohmann::json& context) const;

  const JinjaLimits& limits() const { return limits_; }

 private:
  JinjaTemplate(NodeList program, JinjaLimits limits) : program_(std::move(program)), limits_(limits) {}

  NodeList program_;
  JinjaLimits limits_;
};

}  // namespace llmux::chat::jinja
