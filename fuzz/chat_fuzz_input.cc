#include "chat_fuzz_input.h"

#include "base/json_nesting.h"

namespace llmux::fuzz {
namespace {

using chat::Json;

std::string StringOr(const Json& obj, const char* key, std::string fallback = "") {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A string, or the text parts of an array joined (as the OpenAI parser joins them).
std::string Content(const Json& message) {
  auto c = message.find("content");
  if (c == message.end()) return "";
  if (c->is_string()) return c->get<std::string>();
  std::string text;
  if (c->is_array()) {
    for (const Json& part : *c) {
      if (part.is_object()) text += StringOr(part, "text");
    }
  }
  return text;
}

chat::ToolCall ToolCall(const Json& j) {
  chat::ToolCall call;
  if (!j.is_object()) return call;
  call.id = StringOr(j, "id");
  auto fn = j.find("function");
  const Json& f = fn != j.end() && fn->is_object() ? *fn : j;
  call.name = StringOr(f, "name");
  auto args = f.find("arguments");
  call.arguments = args != f.end() ? *args : Json("{}");
  return call;
}

chat::Message Message(const Json& j) {
  chat::Message m;
  if (!j.is_object()) return m;
  m.role = StringOr(j, "role");
  m.content = Content(j);
  if (auto r = j.find("reasoning_content"); r != j.end() && r->is_string()) {
    m.reasoning_content = r->get<std::string>();
  }
  if (auto calls = j.find("tool_calls"); calls != j.end() && calls->is_array()) {
    for (const Json& c : *calls) m.tool_calls.push_back(ToolCall(c));
  }
  m.tool_call_id = StringOr(j, "tool_call_id");
  m.name = StringOr(j, "name");
  return m;
}

bool BoolOr(const Json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace

std::optional<ChatFuzzInput> DecodeChatFuzzInput(std::string_view data) {
  const size_t nul = data.find('\0');
  const std::string_view json_text = data.substr(0, nul);
  // The server refuses deeper documents before parsing; the templates never see them.
  if (!JsonNestingWithin(json_text)) return std::nullopt;
  const Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;

  ChatFuzzInput in;
  if (auto msgs = doc.find("messages"); msgs != doc.end() && msgs->is_array()) {
    for (const Json& m : *msgs) in.messages.push_back(Message(m));
  }
  if (auto tools = doc.find("tools"); tools != doc.end() && tools->is_array()) {
    for (const Json& t : *tools) in.tools.push_back(chat::Tool{t});
  }
  in.options.add_generation_prompt = BoolOr(doc, "add_generation_prompt", true);
  in.options.enable_thinking = BoolOr(doc, "enable_thinking", true);
  in.options.date_string = StringOr(doc, "date");
  if (auto pieces = doc.find("pieces"); pieces != doc.end() && pieces->is_array()) {
    for (const Json& p : *pieces) {
      if (p.is_number_unsigned() && p.get<uint64_t>() > 0 && p.get<uint64_t>() <= 4096) {
        in.pieces.push_back(p.get<size_t>());
      }
    }
  }
  if (in.pieces.empty()) in.pieces.push_back(1);  // byte by byte: every split point
  if (nul != std::string_view::npos) in.output = std::string(data.substr(nul + 1));
  return in;
}

}  // namespace llmux::fuzz
