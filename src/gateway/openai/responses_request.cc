#include "gateway/openai/responses_request.h"

#include <cmath>
#include <limits>

#include "gateway/openai/openai_fields.h"

namespace llmux::gateway {

namespace {

using namespace request_fields;
constexpr const FieldReader& kFields = kOpenAiFields;

// Text of a message's content: a string or an array of input_text/output_text parts.
Result<std::string> ItemText(const Json& content, const std::string& path) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    return kFields.TypeError(path, "a string or an array of content parts", content);
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& part = content[i];
    const std::string part_path = path + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return kFields.TypeError(part_path, "an object", part);
    LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(part, "type", part_path + ".type"));
    if (!type) return kFields.Invalid(part_path + ".type", "Each content part needs a 'type'.");
    if (*type != "input_text" && *type != "output_text" && *type != "text") {
      return kFields.Invalid(part_path + ".type", "Content parts of type '" + *type +
                                                      "' are not supported; only 'input_text' and "
                                                      "'output_text' are.");
    }
    LLMUX_ASSIGN_OR_RETURN(auto t, kFields.GetString(part, "text", part_path + ".text"));
    if (!t) return kFields.Invalid(part_path + ".text", "A text part needs 'text'.");
    text += *t;
  }
  return text;
}

Result<std::string> RequiredString(const Json& obj, const char* name, const std::string& path) {
  LLMUX_ASSIGN_OR_RETURN(auto v, kFields.GetString(obj, name, path + "." + name));
  if (!v)
    return kFields.Invalid(path + "." + name,
                           "Missing required parameter: '" + path + "." + name + "'.");
  return *v;
}

// One input item appended to `out`: consecutive function_call items join one assistant message.
Status AppendItem(const Json& item, const std::string& path, std::vector<chat::Message>& out) {
  if (!item.is_object()) return kFields.TypeError(path, "an object", item);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(item, "type", path + ".type"));
  const std::string kind = type.value_or("message");
  if (kind == "message") {
    chat::Message m;
    LLMUX_ASSIGN_OR_RETURN(m.role, RequiredString(item, "role", path));
    if (m.role == "developer") m.role = "system";
    if (m.role != "user" && m.role != "assistant" && m.role != "system") {
      return kFields.Invalid(
          path + ".role",
          "role must be 'user', 'assistant', 'system' or 'developer', got '" + m.role + "'.");
    }
    const Json* content = Field(item, "content");
    if (!content)
      return kFields.Invalid(path + ".content",
                             "Missing required parameter: '" + path + ".content'.");
    LLMUX_ASSIGN_OR_RETURN(m.content, ItemText(*content, path + ".content"));
    out.push_back(std::move(m));
    return Status::Ok();
  }
  if (kind == "function_call") {
    chat::ToolCall call;
    LLMUX_ASSIGN_OR_RETURN(call.id, RequiredString(item, "call_id", path));
    LLMUX_ASSIGN_OR_RETURN(call.name, RequiredString(item, "name", path));
    LLMUX_ASSIGN_OR_RETURN(std::string args, RequiredString(item, "arguments", path));
    call.arguments = std::move(args);
    if (out.empty() || out.back().role != "assistant") out.push_back(MakeMessage("assistant", ""));
    out.back().tool_calls.push_back(std::move(call));
    return Status::Ok();
  }
  if (kind == "function_call_output") {
    chat::Message m = MakeMessage("tool", "");
    LLMUX_ASSIGN_OR_RETURN(m.tool_call_id, RequiredString(item, "call_id", path));
    const Json* output = Field(item, "output");
    if (!output)
      return kFields.Invalid(path + ".output",
                             "Missing required parameter: '" + path + ".output'.");
    LLMUX_ASSIGN_OR_RETURN(m.content, ItemText(*output, path + ".output"));
    out.push_back(std::move(m));
    return Status::Ok();
  }
  if (kind == "reasoning") return Status::Ok();  // earlier thinking is not fed back to the model
  return kFields.Invalid(path + ".type",
                         "Input items of type '" + kind +
                             "' are not supported; use 'message', 'function_call' or "
                             "'function_call_output'.");
}

Result<std::vector<chat::Message>> ParseInput(const Json& body) {
  const Json* input = Field(body, "input");
  if (!input) return kFields.Invalid("input", "Missing required parameter: 'input'.");
  std::vector<chat::Message> out;
  if (input->is_string()) {
    out.push_back(MakeMessage("user", input->get<std::string>()));
    return out;
  }
  if (!input->is_array())
    return kFields.TypeError("input", "a string or an array of input items", *input);
  if (input->empty()) return kFields.Invalid("input", "'input' must contain at least one item.");
  if (input->size() > kMaxResponseInputItems) {
    return kFields.Invalid("input", "input holds " + std::to_string(input->size()) +
                                        " items; at most " +
                                        std::to_string(kMaxResponseInputItems) + " are allowed.");
  }
  for (size_t i = 0; i < input->size(); ++i) {
    LLMUX_RETURN_IF_ERROR(AppendItem((*input)[i], "input[" + std::to_string(i) + "]", out));
  }
  return out;
}

// Responses tools are flat ({type, name, description, parameters, strict}); the chat layer
// takes the chat-completions shape {type: function, function: {...}}.
Result<std::vector<chat::Tool>> ParseTools(const Json& body) {
  std::vector<chat::Tool> tools;
  const Json* t = Field(body, "tools");
  if (!t) return tools;
  if (!t->is_array()) return kFields.TypeError("tools", "an array", *t);
  if (t->size() > kMaxResponseInputItems) return kFields.Invalid("tools", "Too many tools.");
  for (size_t i = 0; i < t->size(); ++i) {
    const Json& tool = (*t)[i];
    const std::string path = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return kFields.TypeError(path, "an object", tool);
    LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(tool, "type", path + ".type"));
    if (!type)
      return kFields.Invalid(path + ".type", "Missing required parameter: '" + path + ".type'.");
    if (*type != "function") {
      return kFields.Invalid(path + ".type", "Tools of type '" + *type +
                                                 "' are not supported; only 'function' tools are.");
    }
    LLMUX_ASSIGN_OR_RETURN(std::string name, RequiredString(tool, "name", path));
    if (name.empty()) return kFields.Invalid(path + ".name", "A function tool needs a 'name'.");
    Json fn = {{"name", name}};
    LLMUX_ASSIGN_OR_RETURN(auto description,
                           kFields.GetString(tool, "description", path + ".description"));
    if (description) fn["description"] = *description;
    if (const Json* params = Field(tool, "parameters")) {
      if (!params->is_object())
        return kFields.TypeError(path + ".parameters", "an object (a JSON Schema)", *params);
      fn["parameters"] = *params;
    }
    LLMUX_ASSIGN_OR_RETURN(auto strict, kFields.GetBool(tool, "strict", path + ".strict"));
    if (strict) fn["strict"] = *strict;
    tools.push_back(chat::Tool{Json{{"type", "function"}, {"function", std::move(fn)}}});
  }
  return tools;
}

Result<serving::ToolChoice> ParseToolChoice(const Json& body) {
  serving::ToolChoice choice;
  const Json* c = Field(body, "tool_choice");
  if (!c) return choice;
  if (c->is_string()) {
    const std::string s = c->get<std::string>();
    if (s == "none") {
      choice.mode = serving::ToolChoiceMode::kNone;
    } else if (s == "required") {
      choice.mode = serving::ToolChoiceMode::kRequired;
    } else if (s != "auto") {
      return kFields.Invalid("tool_choice",
                             "tool_choice must be 'none', 'auto', 'required' or a function.");
    }
    return choice;
  }
  if (!c->is_object()) return kFields.TypeError("tool_choice", "a string or an object", *c);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(*c, "type", "tool_choice.type"));
  if (type != "function") {
    return kFields.Invalid("tool_choice.type",
                           "Only a tool_choice of type 'function' is supported.");
  }
  LLMUX_ASSIGN_OR_RETURN(choice.function_name, RequiredString(*c, "name", "tool_choice"));
  choice.mode = serving::ToolChoiceMode::kFunction;
  return choice;
}

// text.format: {type: text} | {type: json_object} | {type: json_schema, name, schema, strict}.
Status ParseTextFormat(const Json& body, serving::ChatRequest& r) {
  const Json* text = Field(body, "text");
  if (!text) return Status::Ok();
  if (!text->is_object()) return kFields.TypeError("text", "an object", *text);
  const Json* format = Field(*text, "format");
  if (!format) return Status::Ok();
  if (!format->is_object()) return kFields.TypeError("text.format", "an object", *format);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(*format, "type", "text.format.type"));
  if (!type || *type == "text") return Status::Ok();
  if (*type == "json_object") {
    r.response_format = serving::ResponseFormat::kJsonObject;
    return Status::Ok();
  }
  if (*type != "json_schema") {
    return kFields.Invalid("text.format.type",
                           "text.format type '" + *type +
                               "' is not supported; use 'text', 'json_object' or "
                               "'json_schema'.");
  }
  LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(*format, "name", "text.format.name"));
  if (name && name->size() > 64) {
    return kFields.Invalid("text.format.name", "text.format.name must be at most 64 characters");
  }
  LLMUX_ASSIGN_OR_RETURN(auto strict, kFields.GetBool(*format, "strict", "text.format.strict"));
  const Json* schema = Field(*format, "schema");
  if (!schema)
    return kFields.Invalid("text.format.schema",
                           "Missing required parameter: 'text.format.schema'.");
  if (!schema->is_object() && !schema->is_boolean()) {
    return kFields.TypeError("text.format.schema", "an object", *schema);
  }
  r.response_format = serving::ResponseFormat::kJsonSchema;
  r.json_schema = schema->dump(-1, ' ', false, Json::error_handler_t::replace);
  r.json_schema_strict = strict.value_or(false);
  return Status::Ok();
}

Status ParseSampling(const Json& body, serving::GenerationOptions& o) {
  auto number = [&](const char* name, auto& target) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auto v, kFields.GetFloat(body, name, name));
    if (v) target = *v;
    return Status::Ok();
  };
  LLMUX_RETURN_IF_ERROR(number("temperature", o.sampling.temperature));
  LLMUX_RETURN_IF_ERROR(number("top_p", o.sampling.top_p));
  LLMUX_ASSIGN_OR_RETURN(auto max_tokens,
                         kFields.GetInt(body, "max_output_tokens", "max_output_tokens"));
  if (max_tokens) o.max_tokens = *max_tokens;
  LLMUX_ASSIGN_OR_RETURN(auto user, kFields.GetString(body, "user", "user"));
  o.user = user.value_or("");
  // Not in OpenAI's Responses API: llmux takes chat completions' `seed` here too.
  LLMUX_ASSIGN_OR_RETURN(auto seed, kFields.GetInteger(body, "seed", "seed"));
  if (seed) o.sampling.seed = static_cast<uint32_t>(*seed);
  return Status::Ok();
}

// reasoning.effort "minimal"/"none" turns thinking off (Qwen3); any other effort leaves it on.
Status ParseReasoning(const Json& body, serving::ChatRequest& r) {
  const Json* reasoning = Field(body, "reasoning");
  if (!reasoning) return Status::Ok();
  if (!reasoning->is_object()) return kFields.TypeError("reasoning", "an object", *reasoning);
  LLMUX_ASSIGN_OR_RETURN(auto effort, kFields.GetString(*reasoning, "effort", "reasoning.effort"));
  if (effort && (*effort == "minimal" || *effort == "none")) r.enable_thinking = false;
  return Status::Ok();
}

}  // namespace

chat::Message MakeMessage(std::string role, std::string content) {
  chat::Message m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

Result<ParsedResponsesRequest> ParseResponsesRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedResponsesRequest out;
  serving::ChatRequest& r = out.request;
  LLMUX_ASSIGN_OR_RETURN(auto model, kFields.GetString(body, "model", "model"));
  if (!model) return kFields.Invalid("model", "Missing required parameter: 'model'.");
  r.model = *model;
  LLMUX_ASSIGN_OR_RETURN(r.messages, ParseInput(body));
  LLMUX_ASSIGN_OR_RETURN(out.instructions, kFields.GetString(body, "instructions", "instructions"));
  LLMUX_ASSIGN_OR_RETURN(r.tools, ParseTools(body));
  LLMUX_ASSIGN_OR_RETURN(r.tool_choice, ParseToolChoice(body));
  LLMUX_ASSIGN_OR_RETURN(auto parallel,
                         kFields.GetBool(body, "parallel_tool_calls", "parallel_tool_calls"));
  r.parallel_tool_calls = parallel.value_or(true);
  LLMUX_RETURN_IF_ERROR(ParseSampling(body, r.options));
  LLMUX_RETURN_IF_ERROR(ParseTextFormat(body, r));
  LLMUX_RETURN_IF_ERROR(ParseReasoning(body, r));
  LLMUX_ASSIGN_OR_RETURN(auto previous,
                         kFields.GetString(body, "previous_response_id", "previous_response_id"));
  out.previous_response_id = previous.value_or("");
  LLMUX_ASSIGN_OR_RETURN(auto stream, kFields.GetBool(body, "stream", "stream"));
  out.stream = stream.value_or(false);
  LLMUX_ASSIGN_OR_RETURN(auto store, kFields.GetBool(body, "store", "store"));
  out.store = store.value_or(true);
  if (const Json* metadata = Field(body, "metadata"); metadata && !metadata->is_object()) {
    return kFields.TypeError("metadata", "an object", *metadata);
  }
  for (const char* name : {"instructions", "tools", "tool_choice", "text", "temperature", "top_p",
                           "max_output_tokens", "reasoning", "metadata", "parallel_tool_calls"}) {
    if (const Json* v = Field(body, name)) out.echo[name] = *v;
  }
  return out;
}

}  // namespace llmux::gateway
