// Per-model settings read when a model is loaded (the registry's defaults, issue 16): context
// length, KV cache type and budget, chat template and max running sequences override the role's
// flags for that model only, and `path` says which file serves a model that is requested while
// not loaded (on-demand load). They are read at every load, so a change applies at the next one.
// Declared here, below the services, so that serving never depends on the registry.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "engine/tensor/dtype.h"

namespace llmux::serving {

struct ModelHostOptions;  // model_host.h (this header stays free of the engine's model)

struct ModelLoadSettings {
  std::string path;  // the file to load the model from on demand; empty: none known
  std::optional<int> n_ctx;
  std::optional<DType> kv_type;
  std::optional<int64_t> kv_cache_bytes;
  std::optional<int> max_running;
  std::optional<std::string> chat_template;  // Jinja source replacing the file's template
};

// The settings of the model served as `name`; nullopt: none (the flags apply). Called without
// the service's lock, once per load (and once per request for a name that is not loaded).
using ModelLoadSettingsLookup =
    std::function<std::optional<ModelLoadSettings>(const std::string& name)>;

// `options` with what `settings` sets replaced, for one model.
ModelHostOptions WithLoadSettings(ModelHostOptions options, const ModelLoadSettings& settings);

}  // namespace llmux::serving
