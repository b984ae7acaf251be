#include "auth/permissions.h"

#include <array>

namespace llmux::auth {

std::string ModelUsePermission(std::string_view model) {
  return std::string(kPermModelsUsePrefix) + std::string(model);
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Greedy matcher with a single backtrack point (the last '*'): O(|p| * |t|) worst case.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Status ValidatePermission(std::string_view g) {
  static constexpr std::array<std::string_view, 7> kFixed = {
      kPermAll,         kPermModelsManage, kPermModelsRead, kPermKeysManage,
      kPermUsersManage, kPermLogsRead,     kPermMetricsRead};
  for (std::string_view f : kFixed) {
    if (g == f) return Status::Ok();
  }
  if (g.substr(0, kPermModelsUsePrefix.size()) == kPermModelsUsePrefix) {
    std::string_view model = g.substr(kPermModelsUsePrefix.size());
    if (model.empty()) return InvalidArgumentError("permission models:use: needs a model or glob");
    for (char c : model) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("._-/:@+*?").find(c) != std::string_view::npos;
      if (!ok) return InvalidArgumentError("permission has an invalid character in the model glob");
    }
    return Status::Ok();
  }
  return InvalidArgumentError("unknown permission '" + std::string(g.substr(0, 64)) + "'");
}

Result<PermissionSet> PermissionSet::Parse(const std::vector<std::string>& grants) {
  PermissionSet s;
  for (const std::string& g : grants) {
    LLMUX_RETURN_IF_ERROR(ValidatePermission(g));
    s.Add(g);
  }
  return s;
}

void PermissionSet::Merge(const PermissionSet& other) {
  grants_.insert(grants_.end(), other.grants_.begin(), other.grants_.end());
}

bool GlobCovers(std::string_view holder, std::string_view grant) {
  const size_t grant_wild = grant.find_first_of("*?");
  if (grant_wild == std::string_view::npos) return GlobMatch(holder, grant);
  const size_t holder_wild = holder.find_first_of("*?");
  if (holder_wild == std::string_view::npos) return holder == grant;
  // holder = P + "*" with P literal: every string the grant matches starts with the grant's
  // literal prefix, so P must be a prefix of that.
  if (holder_wild != holder.size() - 1 || holder.back() != '*') return false;
  const std::string_view prefix = holder.substr(0, holder_wild);
  return prefix.size() <= grant_wild && grant.substr(0, prefix.size()) == prefix;
}

bool PermissionSet::Covers(std::string_view grant) const {
  for (const std::string& g : grants_) {
    if (GlobCovers(g, grant)) return true;
  }
  return false;
}

bool PermissionSet::Allows(std::string_view required) const {
  for (const std::string& g : grants_) {
    if (GlobMatch(g, required)) return true;
  }
  return false;
}

std::optional<PermissionSet> BuiltinRole(std::string_view name) {
  PermissionSet s;
  if (name == "admin") {
    s.Add(std::string(kPermAll));
  } else if (name == "operator") {
    s.Add(ModelUsePermission("*"));
    s.Add(std::string(kPermModelsManage));
    s.Add(std::string(kPermModelsRead));
    s.Add(std::string(kPermLogsRead));
    s.Add(std::string(kPermMetricsRead));
  } else if (name == "user") {
    s.Add(ModelUsePermission("*"));
  } else {
    return std::nullopt;
  }
  return s;
}

const std::vector<std::string>& BuiltinRoleNames() {
  static const std::vector<std::string> kNames = {"admin", "operator", "user"};
  return kNames;
}

}  // namespace llmux::auth
