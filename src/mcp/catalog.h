// What an MCP server offers: tools, resources (fixed URIs and URI templates) and prompts,
// each a descriptor (the JSON that the list methods return) and the code behind it. Fixed
// entries are added at start; sources add entries that change while the server runs (the
// loaded models, prompts stored by admins) and are asked again on every list or lookup.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "mcp/caller.h"
#include "mcp/json_rpc.h"
#include "mcp/tool_call.h"

namespace llmux::mcp {

struct ToolDefinition {
  Json descriptor;  // name, title, description, inputSchema, outputSchema, annotations
  std::string permission;  // the caller needs it to see and call the tool; empty: anyone
  std::function<void(std::shared_ptr<ToolCall>)> run;
  std::string name() const { return descriptor.value("name", ""); }
};

// Reads a resource: the `contents` array of a resources/read result.
using ResourceReader = std::function<Result<Json>(const std::string& uri, Caller& caller)>;
// Completion candidates for an argument or template variable, given its partial value, the
// other arguments already chosen and the caller (offered only what it may use).
using Completer = std::function<std::vector<std::string>(
    const std::string& argument, const std::string& value, const Json& context, const Caller& caller)>;

struct ResourceDefinition {
  Json descriptor;  // uri, name, title, description, mimeType
  ResourceReader read;
  // Whether resources/list shows it to `caller` (as tools needing a permission are hidden);
  // empty: every caller. Reading checks again.
  std::function<bool(const Caller&)> visible = nullptr;
  std::string uri() const { return descriptor.value("uri", ""); }
};

struct ResourceTemplateDefinition {
  Json descriptor;  // uriTemplate, name, title, description, mimeType
  ResourceReader read;
  Completer complete;  // may be empty
  std::string uri_template() const { return descriptor.value("uriTemplate", ""); }
};

// prompts/get: {description?, messages} for the given arguments (`params` is the whole request,
// for multi-round-trip answers); kInvalidArgument for missing or bad arguments.
using PromptRenderer = std::function<Result<Json>(const Json& arguments, const Json& params)>;

struct PromptDefinition {
  Json descriptor;  // name, title, description, arguments: [{name, description, required}]
  PromptRenderer get;
  Completer complete;  // may be empty
  std::string name() const { return descriptor.value("name", ""); }
};

class Catalog {
 public:
  void AddTool(ToolDefinition tool);
  void AddResource(ResourceDefinition resource);
  void AddResourceTemplate(ResourceTemplateDefinition resource_template);
  void AddPrompt(PromptDefinition prompt);
  void AddResourceSource(std::function<std::vector<ResourceDefinition>()> source);
  void AddPromptSource(std::function<std::vector<PromptDefinition>()> source);

  std::vector<ToolDefinition> Tools() const;
  std::vector<ResourceDefinition> Resources() const;
  std::vector<ResourceTemplateDefinition> ResourceTemplates() const;
  std::vector<PromptDefinition> Prompts() const;

  std::optional<ToolDefinition> FindTool(const std::string& name) const;
  std::optional<PromptDefinition> FindPrompt(const std::string& name) const;
  // A fixed resource with this URI, else the first template that matches it.
  Result<Json> ReadResource(const std::string& uri, Caller& caller) const;
  bool HasResource(const std::string& uri) const;

 private:
  mutable std::mutex mu_;
  std::vector<ToolDefinition> tools_;
  std::vector<ResourceDefinition> resources_;
  std::vector<ResourceTemplateDefinition> templates_;
  std::vector<PromptDefinition> prompts_;
  std::vector<std::function<std::vector<ResourceDefinition>()>> resource_sources_;
  std::vector<std::function<std::vector<PromptDefinition>()>> prompt_sources_;
};

// RFC 6570 level-1 matching of "scheme://a/{x}/b": each {name} matches one or more characters
// other than '/'. Returns the variables, or nullopt when `uri` does not match.
std::optional<std::map<std::string, std::string>> MatchUriTemplate(std::string_view uri_template,
                                                                  std::string_view uri);

}  // namespace llmux::mcp
