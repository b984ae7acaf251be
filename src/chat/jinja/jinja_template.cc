#include "chat/jinja/jinja_template.h"

#include <exception>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"

namespace llmux::chat::jinja {

Result<std::shared_ptr<const JinjaTemplate>> JinjaTemplate::Parse(std::string_view text,
                                                                  JinjaLimits limits) {
  if (text.size() > limits.max_template_bytes) {
    return ResourceExhaustedError("template is " + std::to_string(text.size()) +
                                  " bytes, more than " + std::to_string(limits.max_template_bytes));
  }
  try {
    LLMUX_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
    LLMUX_ASSIGN_OR_RETURN(NodeList program, jinja::Parse(tokens, limits.max_parse_depth));
    return std::shared_ptr<const JinjaTemplate>(new JinjaTemplate(std::move(program), limits));
  } catch (const std::exception& e) {  // std::bad_alloc: nothing else here throws
    return InternalError(std::string("parsing the template: ") + e.what());
  }
}

Result<std::string> JinjaTemplate::Render(const nlohmann::ordered_json& context) const {
  try {
    Interpreter interpreter(limits_);
    return interpreter.Run(program_, context);
  } catch (const std::exception& e) {  // std::bad_alloc, or a json accessor on a wrong type
    return InternalError(std::string("rendering the template: ") + e.what());
  }
}

Result<std::string> JinjaTemplate::Render(const nlohmann::json& context) const {
  nlohmann::ordered_json ordered;
  try {
    ordered = nlohmann::ordered_json::parse(context.dump());
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("template context: ") + e.what());
  }
  return Render(ordered);
}

}  // namespace llmux::chat::jinja
