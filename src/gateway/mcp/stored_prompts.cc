#include "gateway/mcp/stored_prompts.h"

#include <spdlog/spdlog.h>

namespace llmux::gateway {

namespace {

using mcp::Json;

// Replaces every {{name}} whose name is an argument; other text stays as it is.
std::string Fill(const std::string& text, const Json& arguments) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    const size_t close = open == std::string::npos ? open : text.find("}}", open + 2);
    if (close == std::string::npos) break;
    const std::string name = text.substr(open + 2, close - open - 2);
    out += text.substr(pos, open - pos);
    auto it = arguments.find(name);
    if (it == arguments.end()) {
      out += "";  // an optional argument left out
    } else {
      out += it->is_string() ? it->get<std::string>() : it->dump();
    }
    pos = close + 2;
  }
  out += text.substr(pos);
  return out;
}

}  // namespace

mcp::PromptDefinition StoredPromptDefinition(const store::Prompt& prompt) {
  Json arguments = Json::parse(prompt.arguments_json, nullptr, false);
  Json messages = Json::parse(prompt.messages_json, nullptr, false);
  if (!arguments.is_array()) arguments = Json::array();
  if (!messages.is_array()) messages = Json::array();
  Json descriptor{{"name", prompt.name}, {"description", prompt.description}, {"arguments", arguments}};
  if (!prompt.title.empty()) descriptor["title"] = prompt.title;
  std::string description = prompt.description;
  return mcp::PromptDefinition{
      std::move(descriptor),
      [messages, description](const Json& args, const Json&) -> Result<Json> {
        Json out = Json::array();
        for (const Json& m : messages) {
          out.push_back({{"role", m.value("role", "user")},
                         {"content", mcp::TextContent(Fill(m.value("text", ""), args))}});
        }
        return Json{{"description", description}, {"messages", std::move(out)}};
      },
      nullptr};
}

void AddStoredPrompts(mcp::Catalog& catalog, store::Store& store) {
  store::Store* s = &store;
  catalog.AddPromptSource([s] {
    std::vector<mcp::PromptDefinition> prompts;
    auto stored = s->ListPrompts();
    if (!stored.ok()) {
      spdlog::warn("MCP prompts: reading the stored templates failed: {}", stored.status().ToString());
      return prompts;
    }
    for (const auto& p : *stored) prompts.push_back(StoredPromptDefinition(p));
    return prompts;
  });
}

}  // namespace llmux::gateway
