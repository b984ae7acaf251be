// Test helpers: OpenAI-shaped JSON messages and tools -> chat types (what the serving layer
// does for real requests), and reading files from the shared test data.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_types.h"

namespace llmux::chat::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Message MessageFromJson(const Json& j) {
  Message m;
  m.role = j.value("role", "");
  if (j.contains("content") && j["content"].is_string()) m.content = j["content"].get<std::string>();
  if (j.contains("reasoning_content") && j["reasoning_content"].is_string()) {
    m.reasoning_content = j["reasoning_content"].get<std::string>();
  }
  if (j.contains("tool_call_id")) m.tool_call_id = j["tool_call_id"].get<std::string>();
  if (j.contains("tool_calls") && j["tool_calls"].is_array()) {
    for (const auto& tc : j["tool_calls"]) {
      ToolCall call;
      call.id = tc.value("id", "");
      call.name = tc["function"]["name"].get<std::string>();
      call.arguments = tc["function"]["arguments"];
      m.tool_calls.push_back(std::move(call));
    }
  }
  return m;
}

inline std::vector<Message> MessagesFromJson(const Json& j) {
  std::vector<Message> out;
  for (const auto& m : j) out.push_back(MessageFromJson(m));
  return out;
}

inline std::vector<Tool> ToolsFromJson(const Json& j) {
  std::vector<Tool> out;
  if (!j.is_array()) return out;
  for (const auto& t : j) out.push_back(Tool{t});
  return out;
}

}  // namespace llmux::chat::testing
