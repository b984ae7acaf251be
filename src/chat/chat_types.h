// Plain chat data in OpenAI's shape, shared by the chat templates, the output parser and
// the serving layer. JSON values (tool schemas, tool-call arguments) keep their key order,
// because templates render them with `tojson` and must match the model's Jinja template.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmux::chat {

using Json = nlohmann::ordered_json;

struct ToolCall {
  std::string id;    // "call_..." as sent by the client or made by us
  std::string name;  // function name
  Json arguments;    // a JSON string (OpenAI's shape) or an object (some clients)
};

struct Message {
  std::string role;  // system | user | assistant | tool
  std::string content;  // text parts joined; null content is ""
  std::optional<std::string> reasoning_content;  // assistant thinking, if the client sent it
  std::vector<ToolCall> tool_calls;             // assistant messages only
  std::string tool_call_id;                     // tool messages
  std::string name;                             // optional participant / tool name
};

// One entry of the request's `tools`: the whole {"type": "function", "function": {...}}
// object, in the client's key order.
struct Tool {
  Json spec;
  std::string name() const;  // spec["function"]["name"], "" if absent
};

struct RenderOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = true;  // Qwen3: false adds the empty <think></think> block
  // Llama 3.1+ templates: the "Today Date: ..." line, e.g. "26 Jul 2024". Empty: the
  // template's own default (Llama 3.1 writes "26 Jul 2024"; templates that call
  // strftime_now, like Llama 3.2, write today's local date as "%d %b %Y").
  std::string date_string;
};

}  // namespace llmux::chat
