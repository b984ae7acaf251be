// Parts of serving_catalog shared between its files.
#pragma once

#include "mcp/serving_catalog.h"
#include "serving/inference_service.h"

namespace llmux::mcp {

// The model card of a served model (list_models, model_info, llmux://models/{name}).
Json ModelCard(const serving::ModelInfo& m);
void AddServingTools(Catalog& catalog, serving::InferenceService& service,
                     const ServingCatalogOptions& options);
// load_model and unload_model, when options.models is set.
void AddModelTools(Catalog& catalog, serving::InferenceService& service,
                   const ServingCatalogOptions& options);

}  // namespace llmux::mcp
