#include "services/prompts/prompt.h"

#include <algorithm>

namespace llmux::prompts {

namespace {

constexpr std::string_view kNameChars =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

}  // namespace

Status ValidatePrompt(const Prompt& p) {
  if (p.name.empty() || p.name.size() > 64 ||
      p.name.find_first_not_of(kNameChars) != std::string::npos) {
    return InvalidArgumentError("name must be 1-64 characters of letters, digits, '_', '.', '-'")
        .WithField("name");
  }
  for (const Argument& arg : p.arguments) {
    if (arg.name.empty()) {
      return InvalidArgumentError("each argument is {name, description?, required?}")
          .WithField("arguments");
    }
  }
  if (p.messages.empty()) {
    return InvalidArgumentError("messages must be a non-empty array of {role, text}")
        .WithField("messages");
  }
  for (const Message& m : p.messages) {
    if (m.role != "user" && m.role != "assistant") {
      return InvalidArgumentError("each message is {role: user|assistant, text}")
          .WithField("messages");
    }
    const std::string& text = m.text;
    for (size_t open = text.find("{{"); open != std::string::npos;
         open = text.find("{{", open + 2)) {
      const size_t close = text.find("}}", open);
      if (close == std::string::npos) break;
      const std::string placeholder = text.substr(open + 2, close - open - 2);
      const bool declared = std::any_of(p.arguments.begin(), p.arguments.end(),
                                        [&](const Argument& a) { return a.name == placeholder; });
      if (!declared) {
        return InvalidArgumentError("{{" + placeholder + "}} names no declared argument")
            .WithField("messages");
      }
    }
  }
  return Status::Ok();
}

std::string FillPlaceholders(std::string_view text,
                             const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    const size_t close = open == std::string_view::npos ? open : text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out += text.substr(pos, open - pos);
    auto it = values.find(std::string(text.substr(open + 2, close - open - 2)));
    if (it != values.end()) out += it->second;
    pos = close + 2;
  }
  out += text.substr(pos);
  return out;
}

}  // namespace llmux::prompts
