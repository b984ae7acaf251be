#include "gateway/openai/openai_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "gateway/openai/openai_fields.h"
#include "serving/request_validation.h"

namespace llmux::gateway {

namespace {

using Json = nlohmann::ordered_json;
using namespace request_fields;
constexpr const FieldReader& kFields = kOpenAiFields;

// Content as a string, null, or an array of text parts.
Result<std::string> ParseContent(const Json& msg, const std::string& path) {
  const Json* c = Field(msg, "content");
  if (!c) return std::string();
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array())
    return kFields.TypeError(path + ".content", "a string or an array of parts", *c);
  std::string text;
  for (size_t i = 0; i < c->size(); ++i) {
    const Json& part = (*c)[i];
    const std::string part_path = path + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) return kFields.TypeError(part_path, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return kFields.Invalid(part_path + ".type", "Each content part needs a 'type'.");
    }
    if (*type != "text") {
      return kFields.Invalid(part_path + ".type", "Content parts of type '" +
                                                      type->get<std::string>() +
                                                      "' are not supported; only 'text' is.");
    }
    LLMUX_ASSIGN_OR_RETURN(auto t, kFields.GetString(part, "text", part_path + ".text"));
    if (!t) return kFields.Invalid(part_path + ".text", "A text part needs 'text'.");
    text += *t;
  }
  return text;
}

Result<chat::ToolCall> ParseToolCall(const Json& j, const std::string& path) {
  if (!j.is_object()) return kFields.TypeError(path, "an object", j);
  chat::ToolCall call;
  LLMUX_ASSIGN_OR_RETURN(auto id, kFields.GetString(j, "id", path + ".id"));
  call.id = id.value_or("");
  const Json* fn = Field(j, "function");
  if (!fn || !fn->is_object())
    return kFields.Invalid(path + ".function", "A tool call needs 'function'.");
  LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(*fn, "name", path + ".function.name"));
  if (!name || name->empty()) {
    return kFields.Invalid(path + ".function.name", "A tool call needs 'function.name'.");
  }
  call.name = *name;
  const Json* args = Field(*fn, "arguments");
  if (!args) {
    call.arguments = "{}";
  } else if (args->is_string() || args->is_object()) {
    call.arguments = *args;
  } else {
    return kFields.TypeError(path + ".function.arguments", "a string", *args);
  }
  return call;
}

Result<std::vector<chat::Message>> ParseMessages(const Json& body) {
  const Json* msgs = Field(body, "messages");
  if (!msgs) return kFields.Invalid("messages", "Missing required parameter: 'messages'.");
  if (!msgs->is_array()) return kFields.TypeError("messages", "an array", *msgs);
  if (msgs->empty())
    return kFields.Invalid("messages", "'messages' must contain at least one message.");
  std::vector<chat::Message> out;
  for (size_t i = 0; i < msgs->size(); ++i) {
    const Json& m = (*msgs)[i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return kFields.TypeError(path, "an object", m);
    chat::Message msg;
    LLMUX_ASSIGN_OR_RETURN(auto role, kFields.GetString(m, "role", path + ".role"));
    if (!role)
      return kFields.Invalid(path + ".role", "Missing required parameter: '" + path + ".role'.");
    msg.role = *role;
    LLMUX_ASSIGN_OR_RETURN(msg.content, ParseContent(m, path));
    LLMUX_ASSIGN_OR_RETURN(auto reasoning,
                           kFields.GetString(m, "reasoning_content", path + ".reasoning_content"));
    msg.reasoning_content = reasoning;
    LLMUX_ASSIGN_OR_RETURN(auto call_id,
                           kFields.GetString(m, "tool_call_id", path + ".tool_call_id"));
    msg.tool_call_id = call_id.value_or("");
    LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(m, "name", path + ".name"));
    msg.name = name.value_or("");
    if (const Json* calls = Field(m, "tool_calls")) {
      if (!calls->is_array()) return kFields.TypeError(path + ".tool_calls", "an array", *calls);
      for (size_t k = 0; k < calls->size(); ++k) {
        LLMUX_ASSIGN_OR_RETURN(chat::ToolCall call,
                               ParseToolCall((*calls)[k], path + ".tool_calls[" + std::to_string(k) + "]"));
        msg.tool_calls.push_back(std::move(call));
      }
    }
    if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name for it
    out.push_back(std::move(msg));
  }
  return out;
}

Result<std::vector<chat::Tool>> ParseTools(const Json& body) {
  std::vector<chat::Tool> tools;
  const Json* t = Field(body, "tools");
  if (!t) return tools;
  if (!t->is_array()) return kFields.TypeError("tools", "an array", *t);
  for (size_t i = 0; i < t->size(); ++i) {
    const Json& tool = (*t)[i];
    const std::string path = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return kFields.TypeError(path, "an object", tool);
    auto type = tool.find("type");
    if (type != tool.end() && (!type->is_string() || *type != "function")) {
      return kFields.Invalid(path + ".type", "Only tools of type 'function' are supported.");
    }
    const Json* fn = Field(tool, "function");
    if (!fn || !fn->is_object())
      return kFields.Invalid(path + ".function", "A tool needs 'function'.");
    const Json* name = Field(*fn, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty()) {
      return kFields.Invalid(path + ".function.name", "A tool needs 'function.name'.");
    }
    // A JSON Schema is an object (OpenAI answers 400 to anything else); absent means no arguments.
    if (const Json* params = Field(*fn, "parameters"); params && !params->is_object()) {
      return kFields.TypeError(path + ".function.parameters", "an object (a JSON Schema)", *params);
    }
    tools.push_back(chat::Tool{tool});
  }
  return tools;
}

Result<serving::ToolChoice> ParseToolChoice(const Json& body) {
  serving::ToolChoice choice;
  const Json* c = Field(body, "tool_choice");
  if (!c) return choice;
  if (c->is_string()) {
    const std::string s = c->get<std::string>();
    if (s == "auto") return choice;
    if (s == "none") {
      choice.mode = serving::ToolChoiceMode::kNone;
    } else if (s == "required") {
      choice.mode = serving::ToolChoiceMode::kRequired;
    } else {
      return kFields.Invalid("tool_choice",
                             "tool_choice must be 'none', 'auto', 'required' or a named function.");
    }
    return choice;
  }
  if (c->is_object()) {
    const Json* fn = Field(*c, "function");
    const Json* name = fn && fn->is_object() ? Field(*fn, "name") : nullptr;
    if (!name || !name->is_string()) {
      return kFields.Invalid("tool_choice.function.name",
                             "A named tool_choice needs 'function.name'.");
    }
    choice.mode = serving::ToolChoiceMode::kFunction;
    choice.function_name = name->get<std::string>();
    return choice;
  }
  return kFields.TypeError("tool_choice", "a string or an object", *c);
}

Result<std::vector<std::string>> ParseStop(const Json& body) {
  std::vector<std::string> stop;
  const Json* s = Field(body, "stop");
  if (!s) return stop;
  if (s->is_string()) {
    stop.push_back(s->get<std::string>());
    return stop;
  }
  if (!s->is_array()) return kFields.TypeError("stop", "a string or an array of strings", *s);
  for (const Json& e : *s) {
    if (!e.is_string()) return kFields.TypeError("stop", "an array of strings", e);
    stop.push_back(e.get<std::string>());
  }
  return stop;
}

Result<StreamSettings> ParseStream(const Json& body) {
  StreamSettings s;
  LLMUX_ASSIGN_OR_RETURN(auto stream, kFields.GetBool(body, "stream", "stream"));
  s.stream = stream.value_or(false);
  if (const Json* opts = Field(body, "stream_options")) {
    if (!opts->is_object()) return kFields.TypeError("stream_options", "an object", *opts);
    LLMUX_ASSIGN_OR_RETURN(auto usage,
                           kFields.GetBool(*opts, "include_usage", "stream_options.include_usage"));
    s.include_usage = usage.value_or(false);
  }
  return s;
}

// Sampling, limits, stop, n, seed and user: the fields chat and completions share.
Status ParseGenerationOptions(const Json& body, serving::GenerationOptions& o) {
  auto number = [&](const char* name, auto& target) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auto v, kFields.GetFloat(body, name, name));
    if (v) target = *v;
    return Status::Ok();
  };
  serving::SamplingOptions& s = o.sampling;
  LLMUX_RETURN_IF_ERROR(number("temperature", s.temperature));
  LLMUX_RETURN_IF_ERROR(number("top_p", s.top_p));
  LLMUX_RETURN_IF_ERROR(number("min_p", s.min_p));
  LLMUX_RETURN_IF_ERROR(number("presence_penalty", s.presence_penalty));
  LLMUX_RETURN_IF_ERROR(number("frequency_penalty", s.frequency_penalty));
  LLMUX_RETURN_IF_ERROR(number("repetition_penalty", s.repetition_penalty));
  LLMUX_ASSIGN_OR_RETURN(auto top_k, kFields.GetInt(body, "top_k", "top_k"));
  if (top_k) s.top_k = *top_k;
  LLMUX_ASSIGN_OR_RETURN(auto seed, kFields.GetInteger(body, "seed", "seed"));
  if (seed) s.seed = static_cast<uint32_t>(*seed);

  LLMUX_ASSIGN_OR_RETURN(auto max_tokens, kFields.GetInt(body, "max_tokens", "max_tokens"));
  LLMUX_ASSIGN_OR_RETURN(auto max_completion,
                         kFields.GetInt(body, "max_completion_tokens", "max_completion_tokens"));
  if (max_completion) {
    o.max_tokens = *max_completion;
  } else if (max_tokens) {
    o.max_tokens = *max_tokens;
  }
  LLMUX_ASSIGN_OR_RETURN(auto n, kFields.GetInteger(body, "n", "n"));
  if (n && *n != 1) return kFields.Invalid("n", "Only n = 1 is supported.");
  LLMUX_ASSIGN_OR_RETURN(o.stop, ParseStop(body));
  LLMUX_ASSIGN_OR_RETURN(auto user, kFields.GetString(body, "user", "user"));
  o.user = user.value_or("");
  LLMUX_ASSIGN_OR_RETURN(auto ignore_eos, kFields.GetBool(body, "ignore_eos", "ignore_eos"));
  o.ignore_eos = ignore_eos.value_or(false);
  return Status::Ok();
}

// response_format {type: text | json_object | json_schema, json_schema: {name, schema, strict}}
// and llama.cpp's `grammar` (GBNF text). The schema travels as JSON text, key order kept; the
// service compiles it (a schema it cannot compile is a 400 naming the keyword).
Status ParseResponseFormat(const Json& body, serving::ChatRequest& r) {
  if (const Json* rf = Field(body, "response_format")) {
    if (!rf->is_object()) return kFields.TypeError("response_format", "an object", *rf);
    LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(*rf, "type", "response_format.type"));
    if (!type || *type == "text") {
      r.response_format = serving::ResponseFormat::kText;
    } else if (*type == "json_object") {
      r.response_format = serving::ResponseFormat::kJsonObject;
    } else if (*type == "json_schema") {
      const Json* js = Field(*rf, "json_schema");
      if (!js)
        return kFields.Invalid("response_format.json_schema",
                               "Missing required parameter: 'response_format.json_schema'.");
      if (!js->is_object())
        return kFields.TypeError("response_format.json_schema", "an object", *js);
      LLMUX_ASSIGN_OR_RETURN(auto name,
                             kFields.GetString(*js, "name", "response_format.json_schema.name"));
      LLMUX_ASSIGN_OR_RETURN(auto strict,
                             kFields.GetBool(*js, "strict", "response_format.json_schema.strict"));
      if (name && name->size() > 64) {
        return kFields.Invalid("response_format.json_schema.name",
                               "response_format.json_schema.name must be at most 64 characters");
      }
      const Json* schema = Field(*js, "schema");
      if (!schema) {
        return kFields.Invalid("response_format.json_schema.schema",
                               "Missing required parameter: 'response_format.json_schema.schema'.");
      }
      if (!schema->is_object() && !schema->is_boolean()) {
        return kFields.TypeError("response_format.json_schema.schema", "an object", *schema);
      }
      r.response_format = serving::ResponseFormat::kJsonSchema;
      r.json_schema = schema->dump(-1, ' ', false, Json::error_handler_t::replace);
      r.json_schema_strict = strict.value_or(false);
    } else {
      return kFields.Invalid("response_format.type",
                             "response_format type '" + *type +
                                 "' is not supported; use 'text', 'json_object' or 'json_schema'.");
    }
  }
  LLMUX_ASSIGN_OR_RETURN(auto grammar, kFields.GetString(body, "grammar", "grammar"));
  if (grammar) {
    if (r.response_format != serving::ResponseFormat::kText) {
      return kFields.Invalid("grammar",
                             "grammar cannot be combined with a response_format other than text");
    }
    r.response_format = serving::ResponseFormat::kGrammar;
    r.grammar = *grammar;
  }
  return Status::Ok();
}

Status RequireModel(const Json& body, std::string& model) {
  LLMUX_ASSIGN_OR_RETURN(auto m, kFields.GetString(body, "model", "model"));
  if (!m) return kFields.Invalid("model", "Missing required parameter: 'model'.");
  model = *m;
  return Status::Ok();
}

}  // namespace

Result<ParsedChatRequest> ParseChatCompletionRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedChatRequest out;
  serving::ChatRequest& r = out.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  LLMUX_ASSIGN_OR_RETURN(r.messages, ParseMessages(body));
  LLMUX_ASSIGN_OR_RETURN(r.tools, ParseTools(body));
  LLMUX_ASSIGN_OR_RETURN(r.tool_choice, ParseToolChoice(body));
  LLMUX_ASSIGN_OR_RETURN(auto parallel,
                         kFields.GetBool(body, "parallel_tool_calls", "parallel_tool_calls"));
  r.parallel_tool_calls = parallel.value_or(true);
  LLMUX_RETURN_IF_ERROR(ParseGenerationOptions(body, r.options));
  LLMUX_ASSIGN_OR_RETURN(auto logprobs, kFields.GetBool(body, "logprobs", "logprobs"));
  r.options.logprobs = logprobs.value_or(false);
  LLMUX_ASSIGN_OR_RETURN(auto top_logprobs, kFields.GetInt(body, "top_logprobs", "top_logprobs"));
  if (top_logprobs) r.options.top_logprobs = *top_logprobs;
  LLMUX_RETURN_IF_ERROR(ParseResponseFormat(body, r));
  if (const Json* kw = Field(body, "chat_template_kwargs")) {
    if (!kw->is_object()) return kFields.TypeError("chat_template_kwargs", "an object", *kw);
    LLMUX_ASSIGN_OR_RETURN(
        r.enable_thinking,
        kFields.GetBool(*kw, "enable_thinking", "chat_template_kwargs.enable_thinking"));
  }
  LLMUX_ASSIGN_OR_RETURN(out.stream, ParseStream(body));
  LLMUX_RETURN_IF_ERROR(serving::ValidateChatRequest(r));
  return out;
}

Result<ParsedCompletionRequest> ParseCompletionRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedCompletionRequest out;
  serving::CompletionRequest& r = out.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  const Json* prompt = Field(body, "prompt");
  if (!prompt) return kFields.Invalid("prompt", "Missing required parameter: 'prompt'.");
  if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_array()) {
    return kFields.Invalid("prompt", "Only a single prompt string is supported.");
  } else {
    return kFields.TypeError("prompt", "a string", *prompt);
  }
  LLMUX_RETURN_IF_ERROR(ParseGenerationOptions(body, r.options));
  if (!r.options.max_tokens) r.options.max_tokens = 16;  // OpenAI's default for completions
  // Legacy completions take logprobs as an integer: how many alternatives to return.
  LLMUX_ASSIGN_OR_RETURN(auto logprobs, kFields.GetInteger(body, "logprobs", "logprobs"));
  if (logprobs) {
    if (*logprobs < 0 || *logprobs > 5)
      return kFields.Invalid("logprobs", "logprobs must be between 0 and 5.");
    r.options.logprobs = true;
    r.options.top_logprobs = static_cast<int>(*logprobs);
  }
  LLMUX_ASSIGN_OR_RETURN(auto echo, kFields.GetBool(body, "echo", "echo"));
  out.echo = echo.value_or(false);
  LLMUX_ASSIGN_OR_RETURN(out.stream, ParseStream(body));
  LLMUX_RETURN_IF_ERROR(serving::ValidateCompletionRequest(r));
  return out;
}

// An array of token ids (non-negative 32-bit integers).
Result<std::vector<int32_t>> TokenIds(const Json& tokens, const std::string& field) {
  if (!tokens.is_array()) return kFields.TypeError(field, "an array of token ids", tokens);
  std::vector<int32_t> out;
  out.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Json& t = tokens[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
        t.get<int64_t>() > std::numeric_limits<int32_t>::max() ||
        (t.is_number_unsigned() && t.get<uint64_t>() > uint64_t{INT32_MAX})) {
      return kFields.Invalid(
          field, field + "[" + std::to_string(i) + "] is not a token id, got " + t.dump());
    }
    out.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return out;
}

Result<ParsedTokenizeRequest> ParseTokenizeRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedTokenizeRequest out;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, out.model));
  LLMUX_ASSIGN_OR_RETURN(auto prompt, kFields.GetString(body, "prompt", "prompt"));
  if (!prompt) return kFields.Invalid("prompt", "Missing required parameter: 'prompt'.");
  out.prompt = std::move(*prompt);
  LLMUX_ASSIGN_OR_RETURN(auto special,
                         kFields.GetBool(body, "add_special_tokens", "add_special_tokens"));
  out.add_special_tokens = special.value_or(true);
  return out;
}

Result<ParsedDetokenizeRequest> ParseDetokenizeRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedDetokenizeRequest out;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, out.model));
  const Json* tokens = Field(body, "tokens");
  if (!tokens) return kFields.Invalid("tokens", "Missing required parameter: 'tokens'.");
  LLMUX_ASSIGN_OR_RETURN(out.tokens, TokenIds(*tokens, "tokens"));
  return out;
}

Result<ParsedEmbeddingsRequest> ParseEmbeddingsRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedEmbeddingsRequest out;
  serving::EmbedRequest& r = out.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  const Json* input = Field(body, "input");
  if (!input) return kFields.Invalid("input", "Missing required parameter: 'input'.");
  const char* kShape =
      "a string, an array of strings, an array of token ids or an array of "
      "arrays of token ids";
  if (input->is_string()) {
    r.inputs.push_back({input->get<std::string>(), {}});
  } else if (!input->is_array() || input->empty()) {
    return kFields.TypeError("input", kShape, *input);
  } else if ((*input)[0].is_number()) {
    serving::EmbedInput one;
    LLMUX_ASSIGN_OR_RETURN(one.tokens, TokenIds(*input, "input"));
    r.inputs.push_back(std::move(one));
  } else {
    if (input->size() > static_cast<size_t>(serving::kMaxEmbedInputs)) {
      return kFields.Invalid("input",
                             "input holds " + std::to_string(input->size()) + " items; at most " +
                                 std::to_string(serving::kMaxEmbedInputs) + " are allowed");
    }
    for (size_t i = 0; i < input->size(); ++i) {
      const Json& item = (*input)[i];
      const std::string path = "input[" + std::to_string(i) + "]";
      serving::EmbedInput one;
      if (item.is_string()) {
        one.text = item.get<std::string>();
      } else if (item.is_array() && !item.empty()) {
        LLMUX_ASSIGN_OR_RETURN(one.tokens, TokenIds(item, path));
      } else {
        return kFields.TypeError(path, "a string or a non-empty array of token ids", item);
      }
      r.inputs.push_back(std::move(one));
    }
  }
  LLMUX_ASSIGN_OR_RETURN(auto format,
                         kFields.GetString(body, "encoding_format", "encoding_format"));
  if (format && *format != "float" && *format != "base64") {
    return kFields.Invalid("encoding_format",
                           "encoding_format must be 'float' or 'base64', got '" + *format + "'");
  }
  out.base64 = format && *format == "base64";
  // vLLM's extension: "normalize": false gives the pooled vectors as they are.
  LLMUX_ASSIGN_OR_RETURN(auto normalize, kFields.GetBool(body, "normalize", "normalize"));
  r.normalize = normalize.value_or(true);
  LLMUX_ASSIGN_OR_RETURN(auto dimensions, kFields.GetInt(body, "dimensions", "dimensions"));
  if (dimensions) {
    if (*dimensions < 1) return kFields.Invalid("dimensions", "dimensions must be at least 1");
    r.dimensions = *dimensions;
  }
  return out;
}

}  // namespace llmux::gateway
