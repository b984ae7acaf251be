// What llmux serves over MCP, on the serving core: the tools chat, complete, list_models,
// model_info and (given a ModelManager) load_model and unload_model; the resources llmux://models/{name} (model cards) and llmux://metrics; and
// prompt templates (summarise, translate, review_code). Permissions of tools come from the
// caller's rules, passed in by the gateway (`tool_permission`), so that the one route table
// decides them.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "mcp/catalog.h"

namespace llmux::serving {
class InferenceService;
class ModelManager;
}  // namespace llmux::serving

namespace llmux::mcp {

// Threads that run slow tools (load_model, unload_model) off the transport's threads. The
// destructor joins them, so that whatever they use (the server, its sessions) is still there
// while they finish: declare it after those in the owner.
class ToolThreads {
 public:
  ToolThreads() = default;
  ToolThreads(const ToolThreads&) = delete;
  ToolThreads& operator=(const ToolThreads&) = delete;
  ~ToolThreads();
  void Start(std::function<void()> work);

 private:
  struct Entry {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::list<Entry> entries_;
};

struct ServingCatalogOptions {
  // The permission a tool needs (empty: any authenticated caller); throws for a tool without
  // a rule, so no tool is served unguarded.
  std::function<std::string(const std::string& tool)> tool_permission;
  // Prometheus text for llmux://metrics (empty: the resource is not offered).
  std::function<std::string()> metrics_text;

  // Models loaded and unloaded at run time (null: load_model and unload_model are not offered).
  serving::ModelManager* models = nullptr;
  // The directory load_model may load from; its `path` argument must name a file inside it.
  std::string model_dir;
  // Called after a model was loaded (true) or unloaded (false), for notifications.
  std::function<void(const std::string& model, bool loaded)> on_models_changed;
  // Where load_model and unload_model run (null: on detached threads).
  ToolThreads* threads = nullptr;
};

// The file load_model may load for `path` (relative to `model_dir`, or absolute): its
// canonical path when it is a regular file inside `model_dir` after resolving `..` and
// symbolic links, else kPermissionDenied / kNotFound / kInvalidArgument with the reason.
Result<std::string> ResolveModelPath(const std::string& model_dir, const std::string& path);

// Adds the tools, resources and prompts to `catalog`. The service must outlive it.
void AddServingCatalog(Catalog& catalog, serving::InferenceService& service,
                       ServingCatalogOptions options);

// The built-in prompt templates.
void AddBuiltinPrompts(Catalog& catalog);

}  // namespace llmux::mcp
