// Who is calling: the result of authenticating one request's credentials, and the questions
// the gateway asks of it (may this caller do X, use model M, under which limits).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_types.h"
#include "auth/permissions.h"

namespace llmux::auth {

struct Principal {
  // Stable id for the audit log and limit counters: "key:7", "user:3", "oidc:<sub>", "anonymous".
  std::string subject;
  // Safe to log: the user name, the key's public prefix, or the token subject.
  std::string display;
  int64_t user_id = 0;  // 0: no local user (system key, OIDC caller, anonymous)
  int64_t key_id = 0;   // 0: not an API key
  PermissionSet permissions;  // what the identity holds (its roles, or the key's own grants)
  // A key's scopes: when non-empty, a permission must also match one of these.
  PermissionSet scopes;
  // A key's allowed models (globs): when non-empty, a model must also match one of these.
  std::vector<std::string> allowed_models;
  Limits limits;       // of the credential (the key's; a user's own for a login token)
  Limits user_limits;  // of the owning user, shared by all their keys; 0 = unlimited

  bool Allows(std::string_view permission) const;
  // Whether the caller holds all that the glob `grant` allows, so that it may hand it out:
  // covered by its permissions, by its scopes when it has some, and, for model use, by its
  // allowed models when it has some (conservative for globs: see GlobCovers).
  bool Holds(std::string_view grant) const;
  bool MayUseModel(std::string_view model) const;
};

// The caller when authentication is switched off (--no-auth): everything is allowed.
Principal AnonymousAdmin();

}  // namespace llmux::auth
