#include "gateway/anthropic/anthropic_request.h"

#include <nlohmann/json.hpp>

#include "gateway/request/request_fields.h"
#include "serving/request_validation.h"

namespace llmux::gateway {

namespace {

using Json = request_fields::Json;
using request_fields::Field;

// Anthropic's error wording ("path: message", as its API words validation errors).
constexpr request_fields::FieldReader kFields({
    .type_error = "expected {1}, got {2}",
    .out_of_range = "out of range",
    .not_json = "The request body is not valid JSON.",
    .not_object = "The request body must be a JSON object.",
    .prefix_path = true,
    .integral_floats = false,
});

// A block's "type" (required).
Result<std::string> BlockType(const Json& block, const std::string& path) {
  if (!block.is_object()) return kFields.TypeError(path, "an object", block);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(block, "type", path + ".type"));
  if (!type) return kFields.Invalid(path + ".type", "Field required");
  return *type;
}

Status Unsupported(const std::string& path, const std::string& type) {
  return kFields.Invalid(path + ".type", "content blocks of type '" + type +
                                             "' are not supported by this server; send text");
}

// The one walk over a content value: a string is one text; an array's blocks are visited in
// order. Text blocks (their "text" required) go to on_text, the others to on_other with their
// type and path; on_other refuses the types it does not take.
template <typename OnText, typename OnOther>
Status WalkContent(const Json& content, const std::string& path, const char* expected,
                   OnText on_text, OnOther on_other) {
  if (content.is_string()) {
    on_text(content.get<std::string>());
    return Status::Ok();
  }
  if (!content.is_array()) return kFields.TypeError(path, expected, content);
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& block = content[i];
    const std::string p = path + "[" + std::to_string(i) + "]";
    LLMUX_ASSIGN_OR_RETURN(std::string type, BlockType(block, p));
    if (type == "text") {
      LLMUX_ASSIGN_OR_RETURN(auto t, kFields.GetString(block, "text", p + ".text"));
      if (!t) return kFields.Invalid(p + ".text", "Field required");
      on_text(*t);
    } else {
      LLMUX_RETURN_IF_ERROR(on_other(type, block, p));
    }
  }
  return Status::Ok();
}

constexpr const char* kContentBlocks = "a string or an array of content blocks";

// A string, or an array of {"type": "text", "text"} blocks joined (system prompts, tool results).
Result<std::string> TextOrTextBlocks(const Json& v, const std::string& path) {
  std::string text;
  LLMUX_RETURN_IF_ERROR(WalkContent(
      v, path, "a string or an array of text blocks",
      [&](const std::string& t) {
        if (!text.empty()) text += "\n";
        text += t;
      },
      [](const std::string& type, const Json&, const std::string& p) {
        return Unsupported(p, type);
      }));
  return text;
}

// A user turn: its tool_result blocks become tool messages (in order), its text one user
// message after them.
Status AppendUserTurn(const Json& content, const std::string& path,
                      std::vector<chat::Message>& out) {
  chat::Message user;
  user.role = "user";
  bool has_text = false;
  LLMUX_RETURN_IF_ERROR(WalkContent(
      content, path, kContentBlocks,
      [&](const std::string& t) {
        user.content += t;
        has_text = true;
      },
      [&](const std::string& type, const Json& block, const std::string& p) -> Status {
        if (type != "tool_result") return Unsupported(p, type);
        chat::Message tool;
        tool.role = "tool";
        LLMUX_ASSIGN_OR_RETURN(auto id,
                               kFields.GetString(block, "tool_use_id", p + ".tool_use_id"));
        if (!id) return kFields.Invalid(p + ".tool_use_id", "Field required");
        tool.tool_call_id = *id;
        if (const Json* c = Field(block, "content")) {
          LLMUX_ASSIGN_OR_RETURN(tool.content, TextOrTextBlocks(*c, p + ".content"));
        }
        out.push_back(std::move(tool));
        return Status::Ok();
      }));
  if (has_text) out.push_back(std::move(user));
  return Status::Ok();
}

Status AppendAssistantTurn(const Json& content, const std::string& path,
                           std::vector<chat::Message>& out) {
  chat::Message msg;
  msg.role = "assistant";
  LLMUX_RETURN_IF_ERROR(WalkContent(
      content, path, kContentBlocks, [&](const std::string& t) { msg.content += t; },
      [&](const std::string& type, const Json& block, const std::string& p) -> Status {
        if (type == "thinking") {
          LLMUX_ASSIGN_OR_RETURN(auto t, kFields.GetString(block, "thinking", p + ".thinking"));
          msg.reasoning_content = msg.reasoning_content.value_or("") + t.value_or("");
          return Status::Ok();
        }
        if (type == "redacted_thinking") return Status::Ok();  // opaque to this server
        if (type != "tool_use") return Unsupported(p, type);
        chat::ToolCall call;
        LLMUX_ASSIGN_OR_RETURN(auto id, kFields.GetString(block, "id", p + ".id"));
        LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(block, "name", p + ".name"));
        if (!name || name->empty()) return kFields.Invalid(p + ".name", "Field required");
        call.id = id.value_or("");
        call.name = *name;
        const Json* input = Field(block, "input");
        if (input && !input->is_object())
          return kFields.TypeError(p + ".input", "an object", *input);
        call.arguments =
            (input ? *input : Json::object()).dump(-1, ' ', false, Json::error_handler_t::replace);
        msg.tool_calls.push_back(std::move(call));
        return Status::Ok();
      }));
  out.push_back(std::move(msg));
  return Status::Ok();
}

Status ParseSystem(const Json& body, std::vector<chat::Message>& out) {
  const Json* s = Field(body, "system");
  if (!s) return Status::Ok();
  chat::Message system;
  system.role = "system";
  LLMUX_ASSIGN_OR_RETURN(system.content, TextOrTextBlocks(*s, "system"));
  out.push_back(std::move(system));
  return Status::Ok();
}

Status ParseMessages(const Json& body, std::vector<chat::Message>& out) {
  const Json* msgs = Field(body, "messages");
  if (!msgs) return kFields.Invalid("messages", "Field required");
  if (!msgs->is_array()) return kFields.TypeError("messages", "an array", *msgs);
  if (msgs->empty()) return kFields.Invalid("messages", "at least one message is required");
  for (size_t i = 0; i < msgs->size(); ++i) {
    const Json& m = (*msgs)[i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return kFields.TypeError(path, "an object", m);
    LLMUX_ASSIGN_OR_RETURN(auto role, kFields.GetString(m, "role", path + ".role"));
    if (!role) return kFields.Invalid(path + ".role", "Field required");
    const Json* content = Field(m, "content");
    if (!content) return kFields.Invalid(path + ".content", "Field required");
    if (*role == "user") {
      LLMUX_RETURN_IF_ERROR(AppendUserTurn(*content, path + ".content", out));
    } else if (*role == "assistant") {
      LLMUX_RETURN_IF_ERROR(AppendAssistantTurn(*content, path + ".content", out));
    } else {
      return kFields.Invalid(path + ".role", "must be 'user' or 'assistant', got '" + *role + "'");
    }
  }
  return Status::Ok();
}

// Anthropic's {name, description, input_schema} as the {"type": "function", "function"} spec
// the chat templates render.
Result<std::vector<chat::Tool>> ParseTools(const Json& body) {
  std::vector<chat::Tool> tools;
  const Json* t = Field(body, "tools");
  if (!t) return tools;
  if (!t->is_array()) return kFields.TypeError("tools", "an array", *t);
  for (size_t i = 0; i < t->size(); ++i) {
    const Json& tool = (*t)[i];
    const std::string path = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return kFields.TypeError(path, "an object", tool);
    LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(tool, "type", path + ".type"));
    if (type && *type != "custom") {
      return kFields.Invalid(
          path + ".type", "only client tools (type 'custom') are supported, got '" + *type + "'");
    }
    LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(tool, "name", path + ".name"));
    if (!name || name->empty()) return kFields.Invalid(path + ".name", "Field required");
    LLMUX_ASSIGN_OR_RETURN(auto description,
                           kFields.GetString(tool, "description", path + ".description"));
    const Json* schema = Field(tool, "input_schema");
    if (!schema) return kFields.Invalid(path + ".input_schema", "Field required");
    if (!schema->is_object())
      return kFields.TypeError(path + ".input_schema", "an object (a JSON Schema)", *schema);
    Json fn = Json::object();
    fn["name"] = *name;
    if (description) fn["description"] = *description;
    fn["parameters"] = *schema;
    tools.push_back(chat::Tool{Json{{"type", "function"}, {"function", std::move(fn)}}});
  }
  return tools;
}

Result<serving::ToolChoice> ParseToolChoice(const Json& body) {
  serving::ToolChoice choice;
  const Json* c = Field(body, "tool_choice");
  if (!c) return choice;
  if (!c->is_object()) return kFields.TypeError("tool_choice", "an object", *c);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(*c, "type", "tool_choice.type"));
  if (!type) return kFields.Invalid("tool_choice.type", "Field required");
  if (*type == "auto") return choice;
  if (*type == "none") {
    choice.mode = serving::ToolChoiceMode::kNone;
  } else if (*type == "any") {
    choice.mode = serving::ToolChoiceMode::kRequired;
  } else if (*type == "tool") {
    LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(*c, "name", "tool_choice.name"));
    if (!name) return kFields.Invalid("tool_choice.name", "Field required");
    choice.mode = serving::ToolChoiceMode::kFunction;
    choice.function_name = *name;
  } else {
    return kFields.Invalid("tool_choice.type",
                           "must be 'auto', 'any', 'tool' or 'none', got '" + *type + "'");
  }
  return choice;
}

Status ParseThinking(const Json& body, serving::ChatRequest& r) {
  const Json* t = Field(body, "thinking");
  if (!t) return Status::Ok();
  if (!t->is_object()) return kFields.TypeError("thinking", "an object", *t);
  LLMUX_ASSIGN_OR_RETURN(auto type, kFields.GetString(*t, "type", "thinking.type"));
  if (!type) return kFields.Invalid("thinking.type", "Field required");
  if (*type == "enabled") {
    // budget_tokens is checked, not enforced: the model thinks until it stops (max_tokens caps it).
    LLMUX_ASSIGN_OR_RETURN(auto budget,
                           kFields.GetInt(*t, "budget_tokens", "thinking.budget_tokens"));
    if (budget && *budget < 1)
      return kFields.Invalid("thinking.budget_tokens", "must be at least 1");
    r.enable_thinking = true;
  } else if (*type == "disabled") {
    r.enable_thinking = false;
  } else {
    return kFields.Invalid("thinking.type", "must be 'enabled' or 'disabled', got '" + *type + "'");
  }
  return Status::Ok();
}

// Everything but max_tokens and stream.
Result<serving::ChatRequest> ParseCommon(const Json& body) {
  serving::ChatRequest r;
  LLMUX_ASSIGN_OR_RETURN(auto model, kFields.GetString(body, "model", "model"));
  if (!model) return kFields.Invalid("model", "Field required");
  r.model = *model;
  LLMUX_RETURN_IF_ERROR(ParseSystem(body, r.messages));
  LLMUX_RETURN_IF_ERROR(ParseMessages(body, r.messages));
  LLMUX_ASSIGN_OR_RETURN(r.tools, ParseTools(body));
  LLMUX_ASSIGN_OR_RETURN(r.tool_choice, ParseToolChoice(body));
  if (const Json* c = Field(body, "tool_choice")) {
    if (const Json* d = Field(*c, "disable_parallel_tool_use")) {
      if (!d->is_boolean()) {
        return kFields.TypeError("tool_choice.disable_parallel_tool_use", "a boolean", *d);
      }
      r.parallel_tool_calls = !d->get<bool>();
    }
  }
  LLMUX_RETURN_IF_ERROR(ParseThinking(body, r));
  serving::SamplingOptions& s = r.options.sampling;
  LLMUX_ASSIGN_OR_RETURN(s.temperature, kFields.GetFloat(body, "temperature", "temperature"));
  LLMUX_ASSIGN_OR_RETURN(s.top_p, kFields.GetFloat(body, "top_p", "top_p"));
  LLMUX_ASSIGN_OR_RETURN(s.top_k, kFields.GetInt(body, "top_k", "top_k"));
  // Not Anthropic's: llmux's extension for reproducible sampling (as OpenAI's `seed`).
  LLMUX_ASSIGN_OR_RETURN(auto seed, kFields.GetInt(body, "seed", "seed"));
  if (seed) s.seed = static_cast<uint32_t>(*seed);
  if (const Json* stop = Field(body, "stop_sequences")) {
    if (!stop->is_array()) return kFields.TypeError("stop_sequences", "an array of strings", *stop);
    for (size_t i = 0; i < stop->size(); ++i) {
      const Json& e = (*stop)[i];
      if (!e.is_string())
        return kFields.TypeError("stop_sequences[" + std::to_string(i) + "]", "a string", e);
      r.options.stop.push_back(e.get<std::string>());
    }
  }
  return r;
}

}  // namespace

Result<ParsedMessagesRequest> ParseMessagesRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  ParsedMessagesRequest out;
  LLMUX_ASSIGN_OR_RETURN(out.request, ParseCommon(body));
  LLMUX_ASSIGN_OR_RETURN(auto max_tokens, kFields.GetInt(body, "max_tokens", "max_tokens"));
  if (!max_tokens) return kFields.Invalid("max_tokens", "Field required");
  if (*max_tokens < 1) return kFields.Invalid("max_tokens", "must be at least 1");
  out.request.options.max_tokens = *max_tokens;
  if (const Json* stream = Field(body, "stream")) {
    if (!stream->is_boolean()) return kFields.TypeError("stream", "a boolean", *stream);
    out.stream = stream->get<bool>();
  }
  LLMUX_RETURN_IF_ERROR(serving::ValidateChatRequest(out.request));
  return out;
}

Result<serving::ChatRequest> ParseCountTokensRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  LLMUX_ASSIGN_OR_RETURN(serving::ChatRequest r, ParseCommon(body));
  LLMUX_RETURN_IF_ERROR(serving::ValidateChatRequest(r));
  return r;
}

}  // namespace llmux::gateway
