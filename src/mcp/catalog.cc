#include "mcp/catalog.h"

namespace llmux::mcp {

void Catalog::AddTool(ToolDefinition tool) {
  std::lock_guard lock(mu_);
  tools_.push_back(std::move(tool));
}

void Catalog::AddResource(ResourceDefinition resource) {
  std::lock_guard lock(mu_);
  resources_.push_back(std::move(resource));
}

void Catalog::AddResourceTemplate(ResourceTemplateDefinition resource_template) {
  std::lock_guard lock(mu_);
  templates_.push_back(std::move(resource_template));
}

void Catalog::AddPrompt(PromptDefinition prompt) {
  std::lock_guard lock(mu_);
  prompts_.push_back(std::move(prompt));
}

void Catalog::AddResourceSource(std::function<std::vector<ResourceDefinition>()> source) {
  std::lock_guard lock(mu_);
  resource_sources_.push_back(std::move(source));
}

void Catalog::AddPromptSource(std::function<std::vector<PromptDefinition>()> source) {
  std::lock_guard lock(mu_);
  prompt_sources_.push_back(std::move(source));
}

std::vector<ToolDefinition> Catalog::Tools() const {
  std::lock_guard lock(mu_);
  return tools_;
}

std::vector<ResourceDefinition> Catalog::Resources() const {
  std::vector<ResourceDefinition> all;
  std::vector<std::function<std::vector<ResourceDefinition>()>> sources;
  {
    std::lock_guard lock(mu_);
    all = resources_;
    sources = resource_sources_;
  }
  for (const auto& source : sources) {
    for (auto& r : source()) all.push_back(std::move(r));
  }
  return all;
}

std::vector<ResourceTemplateDefinition> Catalog::ResourceTemplates() const {
  std::lock_guard lock(mu_);
  return templates_;
}

std::vector<PromptDefinition> Catalog::Prompts() const {
  std::vector<PromptDefinition> all;
  std::vector<std::function<std::vector<PromptDefinition>()>> sources;
  {
    std::lock_guard lock(mu_);
    all = prompts_;
    sources = prompt_sources_;
  }
  for (const auto& source : sources) {
    for (auto& p : source()) all.push_back(std::move(p));
  }
  return all;
}

std::optional<ToolDefinition> Catalog::FindTool(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& t : tools_) {
    if (t.name() == name) return t;
  }
  return std::nullopt;
}

std::optional<PromptDefinition> Catalog::FindPrompt(const std::string& name) const {
  for (auto& p : Prompts()) {
    if (p.name() == name) return std::move(p);
  }
  return std::nullopt;
}

Result<Json> Catalog::ReadResource(const std::string& uri, Caller& caller) const {
  for (const auto& r : Resources()) {
    if (r.uri() == uri) return r.read(uri, caller);
  }
  for (const auto& t : ResourceTemplates()) {
    if (MatchUriTemplate(t.uri_template(), uri)) return t.read(uri, caller);
  }
  return NotFoundError("no resource has the URI " + uri);
}

bool Catalog::HasResource(const std::string& uri) const {
  for (const auto& r : Resources()) {
    if (r.uri() == uri) return true;
  }
  for (const auto& t : ResourceTemplates()) {
    if (MatchUriTemplate(t.uri_template(), uri)) return true;
  }
  return false;
}

std::optional<std::map<std::string, std::string>> MatchUriTemplate(std::string_view uri_template,
                                                                  std::string_view uri) {
  std::map<std::string, std::string> vars;
  size_t t = 0;
  size_t u = 0;
  while (t < uri_template.size()) {
    if (uri_template[t] != '{') {
      if (u >= uri.size() || uri[u] != uri_template[t]) return std::nullopt;
      ++t;
      ++u;
      continue;
    }
    const size_t close = uri_template.find('}', t);
    if (close == std::string_view::npos) return std::nullopt;
    std::string name(uri_template.substr(t + 1, close - t - 1));
    const size_t start = u;
    while (u < uri.size() && uri[u] != '/') ++u;
    // The variable ends where the next literal part of the template begins.
    const size_t next = close + 1;
    if (next < uri_template.size() && uri_template[next] != '/') {
      const size_t lit = uri.find(uri_template[next], start);
      if (lit == std::string_view::npos || lit > u) return std::nullopt;
      u = lit;
    }
    if (u == start) return std::nullopt;
    vars[name] = std::string(uri.substr(start, u - start));
    t = next;
  }
  if (u != uri.size()) return std::nullopt;
  return vars;
}

}  // namespace llmux::mcp
