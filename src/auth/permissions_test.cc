#include "auth/permissions.h"

#include <gtest/gtest.h>

#include <map>

namespace llmux::auth {
namespace {

TEST(Glob, StarAndQuestionMark) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything:at:all"));
  EXPECT_TRUE(GlobMatch("qwen3-*", "qwen3-8b"));
  EXPECT_TRUE(GlobMatch("qwen3-*", "qwen3-"));
  EXPECT_FALSE(GlobMatch("qwen3-*", "qwen2-7b"));
  EXPECT_TRUE(GlobMatch("qwen?-8b", "qwen3-8b"));
  EXPECT_FALSE(GlobMatch("qwen?-8b", "qwen-8b"));
  EXPECT_FALSE(GlobMatch("qwen?-8b", "qwen33-8b"));
  EXPECT_TRUE(GlobMatch("*-8b", "llama-3-8b"));
  EXPECT_TRUE(GlobMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "axxbyy"));
  EXPECT_TRUE(GlobMatch("a*b", "abab"));
  EXPECT_FALSE(GlobMatch("abc", "abcd"));
  EXPECT_FALSE(GlobMatch("abcd", "abc"));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("", ""));
}

TEST(Glob, HostilePatternIsFast) {
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "*aaaa";
  std::string text(5000, 'a');
  // A backtracking matcher would take exponential time here; this must return promptly.
  EXPECT_FALSE(GlobMatch(pattern + "b", text));
}

TEST(Permissions, Validation) {
  for (const char* ok : {"*", "models:use:*", "models:use:qwen3-8b",
                         "models:use:org/llama-3.1-8b@q4", "models:manage", "models:read",
                         "keys:manage", "users:manage", "logs:read", "metrics:read"}) {
    EXPECT_TRUE(ValidatePermission(ok).ok()) << ok;
  }
  for (const char* bad : {"", "models", "models:use:", "models:use:a b", "model:use:x", "keys:read",
                          "logs:write", "admin", "models:use:x;drop"}) {
    EXPECT_FALSE(ValidatePermission(bad).ok()) << bad;
  }
  EXPECT_FALSE(PermissionSet::Parse({"logs:read", "users:mange"}).ok());
  auto s = PermissionSet::Parse({"logs:read", "models:use:qwen3-*"});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Allows("models:use:qwen3-8b"));
  EXPECT_FALSE(s->Allows("models:use:llama-3-8b"));
  EXPECT_TRUE(s->Allows("logs:read"));
  EXPECT_FALSE(s->Allows("metrics:read"));
}

TEST(Permissions, BuiltinRoleTable) {
  // The documented table in permissions.h, written out independently.
  const std::vector<std::string> perms = {"models:use:qwen3-8b", "models:manage", "keys:manage",
                                          "users:manage",        "logs:read",     "metrics:read",
                                          "models:read"};
  const std::map<std::string, std::vector<bool>> table = {
      {"admin", {true, true, true, true, true, true, true}},
      {"operator", {true, true, false, false, true, true, true}},
      {"user", {true, false, false, false, false, false, false}},
  };
  for (const auto& [role, allowed] : table) {
    auto set = BuiltinRole(role);
    ASSERT_TRUE(set.has_value()) << role;
    for (size_t i = 0; i < perms.size(); ++i) {
      EXPECT_EQ(set->Allows(perms[i]), allowed[i]) << role << " / " << perms[i];
    }
    // Any model name.
    EXPECT_TRUE(set->Allows(ModelUsePermission("some/other-model")));
    for (const auto& g : set->grants()) EXPECT_TRUE(ValidatePermission(g).ok()) << g;
  }
  EXPECT_FALSE(BuiltinRole("root").has_value());
  EXPECT_FALSE(BuiltinRole("Admin").has_value());
  EXPECT_EQ(BuiltinRoleNames(), (std::vector<std::string>{"admin", "operator", "user"}));
  EXPECT_TRUE(BuiltinRole("admin")->Allows("some:future:permission"));
  EXPECT_FALSE(BuiltinRole("operator")->Allows("some:future:permission"));
}

TEST(Permissions, EmptySetAllowsNothingAndMergeUnites) {
  PermissionSet empty;
  EXPECT_FALSE(empty.Allows("models:use:x"));
  EXPECT_FALSE(empty.Allows(""));
  PermissionSet a = *PermissionSet::Parse({"logs:read"});
  a.Merge(*BuiltinRole("user"));
  EXPECT_TRUE(a.Allows("logs:read"));
  EXPECT_TRUE(a.Allows("models:use:m"));
  EXPECT_FALSE(a.Allows("keys:manage"));
  // A required permission is literal: wildcards in it do not widen a narrow grant.
  PermissionSet narrow = *PermissionSet::Parse({"models:use:qwen3-8b"});
  EXPECT_FALSE(narrow.Allows("models:use:*"));
}

}  // namespace
}  // namespace llmux::auth
