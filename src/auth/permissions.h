// Permissions and built-in roles.
//
// A permission is a string; a grant may contain globs ('*' any run of characters, ':'
// included; '?' exactly one character). Known permissions:
//
//   models:use:<model>   call inference on <model>   (grant e.g. models:use:qwen3-*)
//   models:manage        load, unload, configure models (registry changes)
//   models:read          read the model registry (versions, tags, parameters, history)
//   keys:manage          create, list, revoke API keys of any user
//   users:manage         create, change, delete users and roles
//   logs:read            read request and audit logs
//   metrics:read         read /metrics
//   *                    everything
//
// Built-in roles:
//
//   role      | models:use:* | models:manage | keys:manage | users:manage | logs:read |
//   metrics:read
//   ----------+--------------+---------------+-------------+--------------+-----------+-------------
//   admin     |     yes      |      yes      |     yes     |     yes      |    yes    |     yes
//   (grant "*") operator  |     yes      |      yes      |     no      |      no      |    yes    |
//   yes user      |     yes      |      no       |     no      |      no      |    no     |     no
//   models:read: admin and operator (not user).
//
// Custom roles are lists of grants; ValidatePermission() rejects typos.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::auth {

inline constexpr std::string_view kPermModelsUsePrefix = "models:use:";
inline constexpr std::string_view kPermModelsManage = "models:manage";
inline constexpr std::string_view kPermModelsRead = "models:read";
inline constexpr std::string_view kPermKeysManage = "keys:manage";
inline constexpr std::string_view kPermUsersManage = "users:manage";
inline constexpr std::string_view kPermLogsRead = "logs:read";
inline constexpr std::string_view kPermMetricsRead = "metrics:read";
inline constexpr std::string_view kPermAll = "*";

// "models:use:<model>".
std::string ModelUsePermission(std::string_view model);

// '*' matches any run of characters (also empty), '?' exactly one; everything else literal.
// Linear-time (no backtracking blow-up on hostile patterns).
bool GlobMatch(std::string_view pattern, std::string_view text);

// Whether every permission the glob `grant` allows is also allowed by the glob `holder`. Exact for
// a grant without wildcards (GlobMatch); for a globbed grant, conservative: a holder without
// wildcards covers only the same grant, and one with wildcards only as a literal prefix then '*'
// ("models:use:qwen*" covers "models:use:qwen3-*"; "models:use:qwen?" covers no globbed grant).
bool GlobCovers(std::string_view holder, std::string_view grant);

// A grant is valid if it is "*", one of the fixed permissions, or "models:use:<glob>" with a
// non-empty glob of [A-Za-z0-9._-/:@+*?] characters.
Status ValidatePermission(std::string_view grant);

class PermissionSet {
 public:
  PermissionSet() = default;
  // Validates every grant.
  static Result<PermissionSet> Parse(const std::vector<std::string>& grants);

  // Adds without validation (for built-in tables and already validated storage).
  void Add(std::string grant) { grants_.push_back(std::move(grant)); }
  void Merge(const PermissionSet& other);

  // True when some grant's glob matches `required` (a concrete permission, no globs).
  bool Allows(std::string_view required) const;
  // True when some grant covers the glob `grant` (GlobCovers): it allows all that grant allows.
  bool Covers(std::string_view grant) const;
  bool empty() const { return grants_.empty(); }
  const std::vector<std::string>& grants() const { return grants_; }

 private:
  std::vector<std::string> grants_;
};

// "admin", "operator", "user"; nullopt for other names.
std::optional<PermissionSet> BuiltinRole(std::string_view name);
const std::vector<std::string>& BuiltinRoleNames();

}  // namespace llmux::auth
