#include "auth/principal.h"

namespace llmux::auth {

bool Principal::Allows(std::string_view permission) const {
  if (!permissions.Allows(permission)) return false;
  return scopes.empty() || scopes.Allows(permission);
}

bool Principal::Holds(std::string_view grant) const {
  if (!permissions.Covers(grant)) return false;
  if (!scopes.empty() && !scopes.Covers(grant)) return false;
  if (allowed_models.empty()) return true;
  // The grant may allow using a model: it must then be one of the allowed models.
  const size_t wild = grant.find_first_of("*?");
  const std::string_view literal = grant.substr(0, wild);
  if (literal.rfind(kPermModelsUsePrefix, 0) != 0) {
    // "*", "models:*", ... allow every model; a grant outside models:use: allows none.
    const bool may_use_models = wild != std::string_view::npos && kPermModelsUsePrefix.rfind(literal, 0) == 0;
    return !may_use_models;
  }
  const std::string_view model = grant.substr(kPermModelsUsePrefix.size());
  for (const std::string& glob : allowed_models) {
    if (GlobCovers(glob, model)) return true;
  }
  return false;
}

bool Principal::MayUseModel(std::string_view model) const {
  if (!Allows(ModelUsePermission(model))) return false;
  if (allowed_models.empty()) return true;
  for (const std::string& glob : allowed_models) {
    if (GlobMatch(glob, model)) return true;
  }
  return false;
}

Principal AnonymousAdmin() {
  Principal p;
  p.subject = "anonymous";
  p.display = "anonymous";
  p.permissions.Add(std::string(kPermAll));
  return p;
}

}  // namespace llmux::auth
