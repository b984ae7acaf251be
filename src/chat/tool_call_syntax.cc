#include "chat/tool_call_syntax.h"

#include "base/json_nesting.h"

namespace llmux::chat {
namespace {

std::optional<Json> ParseJson(std::string_view text) {
  if (!JsonNestingWithin(text)) return std::nullopt;
  Json value = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

// The arguments as an object: an object as is, a string holding an object parsed, missing
// or null as {}.
std::optional<std::string> ArgumentsText(const Json* args) {
  if (args == nullptr || args->is_null()) return std::string("{}");
  if (args->is_object()) return CompactJson(*args);
  if (args->is_string()) {
    auto inner = ParseJson(args->get_ref<const std::string&>());
    if (inner && inner->is_object()) return CompactJson(*inner);
  }
  return std::nullopt;
}

std::string_view TrimAscii(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string CompactJson(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::optional<ParsedToolCall> ParseJsonToolCall(std::string_view body) {
  auto json = ParseJson(TrimAscii(body));
  if (!json || !json->is_object()) return std::nullopt;
  auto name = json->find("name");
  if (name == json->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  const Json* args = nullptr;
  if (auto it = json->find("arguments"); it != json->end()) {
    args = &*it;
  } else if (auto p = json->find("parameters"); p != json->end()) {
    args = &*p;
  }
  auto arguments = ArgumentsText(args);
  if (!arguments) return std::nullopt;
  return ParsedToolCall{name->get<std::string>(), std::move(*arguments)};
}

std::optional<ParsedToolCall> ParseArgumentsToolCall(std::string_view name, std::string_view body) {
  if (name.empty()) return std::nullopt;
  auto json = ParseJson(TrimAscii(body));
  if (!json || !(json->is_object() || json->is_string())) return std::nullopt;
  auto arguments = ArgumentsText(&*json);
  if (!arguments) return std::nullopt;
  return ParsedToolCall{std::string(name), std::move(*arguments)};
}

std::optional<ParsedToolCall> ParseDeepSeekToolCall(std::string_view body) {
  static constexpr std::string_view kSep = "<｜tool▁sep｜>";
  const size_t sep = body.find(kSep);
  if (sep == std::string_view::npos) return std::nullopt;
  std::string_view rest = body.substr(sep + kSep.size());
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  const std::string_view name = TrimAscii(rest.substr(0, nl));
  if (name.empty()) return std::nullopt;
  std::string_view args = TrimAscii(rest.substr(nl + 1));
  if (args.substr(0, 3) == "```") {
    const size_t line_end = args.find('\n');  // skips the "```json" line
    if (line_end == std::string_view::npos) return std::nullopt;
    args = args.substr(line_end + 1);
    if (args.size() < 3 || args.substr(args.size() - 3) != "```") return std::nullopt;
    args = TrimAscii(args.substr(0, args.size() - 3));
  }
  auto json = ParseJson(args);
  if (!json || !json->is_object()) return std::nullopt;
  return ParsedToolCall{std::string(name), CompactJson(*json)};
}

}  // namespace llmux::chat
