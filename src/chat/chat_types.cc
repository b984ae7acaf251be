#include "chat/chat_types.h"

namespace llmux::chat {

std::string Tool::name() const {
  if (!spec.is_object()) return "";
  auto fn = spec.find("function");
  if (fn == spec.end() || !fn->is_object()) return "";
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string()) return "";
  return name->get<std::string>();
}

}  // namespace llmux::chat
