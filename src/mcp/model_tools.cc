// The model management tools: load_model (a GGUF file from the server's model directory,
// under a name) and unload_model. Both run on a thread of their own, since loading takes
// seconds and unloading waits for the model's requests to end.
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>
#include <system_error>

#include "mcp/serving_tools.h"
#include "serving/model_manager.h"

namespace llmux::mcp {

namespace {

namespace fs = std::filesystem;

// Served names appear in URIs (llmux://models/{name}) and in the OpenAI API's model field.
Result<std::string> NameArgument(const Json& args) {
  auto v = args.find("name");
  if (v == args.end() || !v->is_string() || v->get<std::string>().empty()) {
    return InvalidArgumentError("name is required: the name to serve the model under");
  }
  const std::string name = v->get<std::string>();
  if (name.size() > 128) return InvalidArgumentError("name must be at most 128 characters");
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') {
      return InvalidArgumentError("name may only hold letters, digits, '.', '_' and '-'");
    }
  }
  return name;
}

void StartWork(ToolThreads* threads, std::function<void()> work) {
  if (threads != nullptr) {
    threads->Start(std::move(work));
  } else {
    std::thread(std::move(work)).detach();
  }
}

}  // namespace

ToolThreads::~ToolThreads() {
  std::list<Entry> entries;
  {
    std::lock_guard lock(mu_);
    entries.swap(entries_);
  }
  for (Entry& e : entries) e.thread.join();
}

void ToolThreads::Start(std::function<void()> work) {
  std::list<Entry> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->done->load()) finished.splice(finished.end(), entries_, it);
      it = next;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    entries_.push_back(Entry{std::thread([work = std::move(work), done] {
                               work();
                               done->store(true);
                             }),
                             done});
  }
  for (Entry& e : finished) e.thread.join();  // they are past their work: this is quick
}

Result<std::string> ResolveModelPath(const std::string& model_dir, const std::string& path) {
  if (model_dir.empty()) return PermissionDeniedError("this server has no model directory");
  if (path.empty()) return InvalidArgumentError("path is required: a GGUF file in the model directory");
  if (path.find('\0') != std::string::npos) return InvalidArgumentError("path holds a NUL character");
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(model_dir, ec), ec);
  if (ec) return NotFoundError("the model directory " + model_dir + " cannot be read: " + ec.message());
  fs::path requested(path);
  if (requested.is_relative()) requested = dir / requested;
  // Symbolic links and ".." are resolved before the check, so neither leads out.
  const fs::path file = fs::weakly_canonical(requested, ec);
  if (ec) return NotFoundError("cannot resolve " + path + ": " + ec.message());
  const fs::path rel = file.lexically_relative(dir);
  if (rel.empty() || rel == "." || *rel.begin() == "..") {
    return PermissionDeniedError("path must name a file inside the model directory; " + path +
                                 " is outside it");
  }
  if (!fs::exists(file, ec)) return NotFoundError("no file " + path + " in the model directory");
  if (!fs::is_regular_file(file, ec)) return InvalidArgumentError(path + " is not a regular file");
  return file.string();
}

void AddModelTools(Catalog& catalog, serving::InferenceService& service,
                   const ServingCatalogOptions& options) {
  if (options.models == nullptr) return;
  auto permission = [&](const std::string& tool) {
    return options.tool_permission ? options.tool_permission(tool) : std::string();
  };
  serving::InferenceService* svc = &service;
  serving::ModelManager* models = options.models;
  ToolThreads* threads = options.threads;
  const std::string model_dir = options.model_dir;
  const auto changed = options.on_models_changed;

  catalog.AddTool(
      {{{"name", "load_model"},
        {"title", "Load a model"},
        {"description",
         "Loads a GGUF file from the server's model directory and serves it under "
         "a name. Progress notifications say when loading starts and ends."},
        {"inputSchema",
         {{"type", "object"},
          {"properties",
           {{"name", {{"type", "string"}, {"description", "the name to serve it under"}}},
            {"path",
             {{"type", "string"},
              {"description", "the GGUF file, relative to the model directory"}}},
            {"keep_alive",
             {{"type", "number"},
              {"description",
               "seconds it stays loaded without requests (negative: until "
               "unloaded; default: the server's --keep-alive)"}}}}},
          {"required", {"name", "path"}}}},
        {"annotations",
         {{"readOnlyHint", false},
          {"destructiveHint", false},
          {"idempotentHint", false},
          {"openWorldHint", false}}}},
       permission("load_model"),
       [svc, models, threads, model_dir, changed](std::shared_ptr<ToolCall> call) {
         const Json& args = call->arguments();
         auto name = NameArgument(args);
         if (!name.ok()) return call->FinishWithError(name.status().message());
         auto path_arg = args.find("path");
         if (path_arg == args.end() || !path_arg->is_string()) {
           return call->FinishWithError("path is required: a GGUF file in the model directory");
         }
         auto file = ResolveModelPath(model_dir, path_arg->get<std::string>());
         if (!file.ok()) return call->FinishWithError(file.status().message());
         std::optional<double> keep_alive;
         if (auto k = args.find("keep_alive"); k != args.end()) {
           if (!k->is_number() || !std::isfinite(k->get<double>()) ||
               std::abs(k->get<double>()) > 1e10) {
             return call->FinishWithError("keep_alive must be a number of seconds");
           }
           keep_alive = k->get<double>();
         }
         StartWork(threads, [svc, models, changed, call, name = *name, file = *file, keep_alive] {
           call->Progress(0, 1, "loading " + name);
           Status s = models->LoadModel(serving::ModelSpec{name, file, keep_alive});
           if (!s.ok()) return call->FinishWithError("cannot load " + name + ": " + s.message());
           call->Progress(1, 1, "loaded " + name);
           if (changed) changed(name, true);
           Json card = Json::object();
           for (const auto& m : svc->ListModels()) {
             if (m.id == name) card = ModelCard(m);
           }
           call->Finish({{"content", Json::array({TextContent("loaded " + name)})},
                         {"structuredContent", card}});
         });
       }});

  catalog.AddTool(
      {{{"name", "unload_model"},
        {"title", "Unload a model"},
        {"description", "Stops serving a model: its running requests are cancelled and its "
                        "memory is freed."},
        {"inputSchema",
         {{"type", "object"},
          {"properties", {{"name", {{"type", "string"}, {"description", "a served model"}}}}},
          {"required", {"name"}}}},
        {"annotations", {{"readOnlyHint", false}, {"destructiveHint", true},
                         {"idempotentHint", true}, {"openWorldHint", false}}}},
       permission("unload_model"),
       [models, threads, changed](std::shared_ptr<ToolCall> call) {
         auto name = NameArgument(call->arguments());
         if (!name.ok()) return call->FinishWithError(name.status().message());
         StartWork(threads, [models, changed, call, name = *name] {
           call->Progress(0, 1, "unloading " + name);
           Status s = models->UnloadModel(name);
           if (!s.ok()) return call->FinishWithError("cannot unload " + name + ": " + s.message());
           call->Progress(1, 1, "unloaded " + name);
           if (changed) changed(name, false);
           call->Finish({{"content", Json::array({TextContent("unloaded " + name)})},
                         {"structuredContent", {{"name", name}, {"unloaded", true}}}});
         });
       }});
}

}  // namespace llmux::mcp
