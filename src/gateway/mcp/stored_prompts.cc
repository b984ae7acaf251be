#include "gateway/mcp/stored_prompts.h"

#include <map>

#include <spdlog/spdlog.h>

#include "services/prompts/prompt_service.h"

namespace llmux::gateway {

namespace {

using mcp::Json;

// The values of a prompts/get's arguments: strings as they are, anything else as JSON text.
std::map<std::string, std::string> ArgumentValues(const Json& arguments) {
  std::map<std::string, std::string> values;
  if (!arguments.is_object()) return values;
  for (const auto& [name, value] : arguments.items()) {
    values[name] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return values;
}

}  // namespace

mcp::PromptDefinition StoredPromptDefinition(const prompts::Prompt& prompt) {
  Json arguments = Json::array();
  for (const prompts::Argument& a : prompt.arguments) {
    Json arg{{"name", a.name}};
    if (a.description) arg["description"] = *a.description;
    if (a.required) arg["required"] = *a.required;
    arguments.push_back(std::move(arg));
  }
  Json descriptor{{"name", prompt.name}, {"description", prompt.description}, {"arguments", arguments}};
  if (!prompt.title.empty()) descriptor["title"] = prompt.title;
  std::string description = prompt.description;
  std::vector<prompts::Message> messages = prompt.messages;
  return mcp::PromptDefinition{
      std::move(descriptor),
      [messages, description](const Json& args, const Json&) -> Result<Json> {
        const std::map<std::string, std::string> values = ArgumentValues(args);
        Json out = Json::array();
        for (const prompts::Message& m : messages) {
          out.push_back({{"role", m.role}, {"content", mcp::TextContent(prompts::FillPlaceholders(m.text, values))}});
        }
        return Json{{"description", description}, {"messages", std::move(out)}};
      },
      nullptr};
}

void AddStoredPrompts(mcp::Catalog& catalog, prompts::PromptService& service) {
  prompts::PromptService* s = &service;
  catalog.AddPromptSource([s] {
    std::vector<mcp::PromptDefinition> definitions;
    auto stored = s->List();
    if (!stored.ok()) {
      spdlog::warn("MCP prompts: reading the stored templates failed: {}", stored.status().ToString());
      return definitions;
    }
    for (const auto& p : *stored) definitions.push_back(StoredPromptDefinition(p));
    return definitions;
  });
}

}  // namespace llmux::gateway
