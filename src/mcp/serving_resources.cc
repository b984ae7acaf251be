// Model cards as resources (llmux://models/{name}) and the server's metrics (llmux://metrics).
#include "mcp/serving_tools.h"

namespace llmux::mcp {

namespace {

constexpr std::string_view kModelPrefix = "llmux://models/";

Result<Json> ReadModelCard(serving::InferenceService& service, const std::string& uri,
                           Caller& caller) {
  const std::string name = uri.substr(kModelPrefix.size());
  for (const auto& m : service.ListModels()) {
    if (m.id == name && caller.MayUseModel(m.id)) {
      return Json::array(
          {{{"uri", uri}, {"mimeType", "application/json"}, {"text", ModelCard(m).dump(2)}}});
    }
  }
  return NotFoundError("no served model is called " + name);
}

}  // namespace

void AddServingCatalog(Catalog& catalog, serving::InferenceService& service,
                       ServingCatalogOptions options) {
  AddServingTools(catalog, service, options);
  serving::InferenceService* svc = &service;

  // One resource per served model, listed as the models come and go, to the callers that may
  // use it (as list_models; reading it hides the others too).
  catalog.AddResourceSource([svc] {
    std::vector<ResourceDefinition> cards;
    for (const auto& m : svc->ListModels()) {
      cards.push_back({{{"uri", std::string(kModelPrefix) + m.id},
                        {"name", m.id},
                        {"title", "Model card: " + m.id},
                        {"description", m.architecture + ", " + m.quantization + ", " +
                                            std::to_string(m.context_length) + " tokens of context"},
                        {"mimeType", "application/json"}},
                       [svc](const std::string& uri, Caller& caller) {
                         return ReadModelCard(*svc, uri, caller);
                       },
                       [id = m.id](const Caller& caller) { return caller.MayUseModel(id); }});
    }
    return cards;
  });
  catalog.AddResourceTemplate(
      {{{"uriTemplate", std::string(kModelPrefix) + "{name}"},
        {"name", "model-card"},
        {"title", "Model card"},
        {"description", "Architecture, quantization, context length and default parameters of a "
                        "served model"},
        {"mimeType", "application/json"}},
       [svc](const std::string& uri, Caller& caller) { return ReadModelCard(*svc, uri, caller); },
       [svc](const std::string&, const std::string& value, const Json&, const Caller& caller) {
         std::vector<std::string> names;
         for (const auto& m : svc->ListModels()) {
           if (m.id.rfind(value, 0) == 0 && caller.MayUseModel(m.id)) names.push_back(m.id);
         }
         return names;
       }});

  if (options.metrics_text) {
    auto metrics = options.metrics_text;
    catalog.AddResource({{{"uri", "llmux://metrics"},
                          {"name", "metrics"},
                          {"title", "Server metrics"},
                          {"description", "Prometheus metrics of this llmux: requests, tokens, "
                                          "latencies, KV cache"},
                          {"mimeType", "text/plain"}},
                         [metrics](const std::string& uri, Caller& caller) -> Result<Json> {
                           if (!caller.Allows("metrics:read")) {
                             return PermissionDeniedError("reading metrics needs metrics:read");
                           }
                           return Json::array({{{"uri", uri},
                                                {"mimeType", "text/plain"},
                                                {"text", metrics()}}});
                         },
                         [](const Caller& caller) { return caller.Allows("metrics:read"); }});
  }
  AddBuiltinPrompts(catalog);
}

}  // namespace llmux::mcp
