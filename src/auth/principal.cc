#include "auth/principal.h"

namespace llmux::auth {

bool Principal::Allows(std::string_view permission) const {
  if (!permissions.Allows(permission)) return false;
  return scopes.empty() || scopes.Allows(permission);
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
