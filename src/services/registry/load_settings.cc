#include "services/registry/load_settings.h"

#include "services/registry/registry_service.h"

namespace llmux::registry {

serving::ModelLoadSettings LoadSettingsOf(const ModelParameters& p) {
  serving::ModelLoadSettings s;
  if (p.context_length) s.n_ctx = static_cast<int>(*p.context_length);
  // ValidateParameters admitted only f32, f16 and q8_0.
  if (p.kv_type) s.kv_type = ParseDType(*p.kv_type);
  if (p.kv_budget_mb) s.kv_cache_bytes = *p.kv_budget_mb * 1024 * 1024;
  if (p.max_running) s.max_running = static_cast<int>(*p.max_running);
  s.chat_template = p.chat_template;
  return s;
}

serving::ModelLoadSettingsLookup RegistryLoadSettings(RegistryService& registry) {
  return [r = &registry](const std::string& name) -> std::optional<serving::ModelLoadSettings> {
    // DefaultsFor is cached (registered or not), so a request for an unknown name reads no store.
    std::optional<ModelParameters> parameters = r->DefaultsFor(name);
    if (!parameters) return std::nullopt;
    serving::ModelLoadSettings s = LoadSettingsOf(*parameters);
    if (auto version = r->Resolve(name); version.ok()) s.path = version->path;
    return s;
  };
}

}  // namespace llmux::registry
