// The registry's load-time parameters as serving's per-model load settings (issue 16): what
// LocalInferenceService reads at every load of a model (at start, on demand, by a hot update).
// Context length, KV type and budget, chat template and max running override the serve flags
// for that model only; a change of them applies at the model's next load.
#pragma once

#include "services/registry/registry_types.h"
#include "serving/model_load_settings.h"

namespace llmux::registry {

class RegistryService;

// The load-time part of `parameters` (the path is left empty).
serving::ModelLoadSettings LoadSettingsOf(const ModelParameters& parameters);

// For a served name ("name" or "name:tag"): the registered model's load settings, with the file
// its tag ("latest" when none is named) points at as the path for on-demand loads (empty when
// the tag does not exist); nullopt for a name that is not registered. `registry` must outlive
// the lookup.
serving::ModelLoadSettingsLookup RegistryLoadSettings(RegistryService& registry);

}  // namespace llmux::registry
