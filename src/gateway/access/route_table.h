// The one table of who may call what, for every route of every protocol the gateway serves.
// Each front end asks it for the rule of a route before serving it, and refuses to register
// a route without one (route_table_test.cc checks that no HTTP route or gRPC method lacks a
// rule). docs/auth.md shows the same table for people.
#pragma once

#include <span>
#include <string_view>

namespace llmux::gateway {

enum class Protocol { kHttp, kGrpc, kMcp };

enum class Access {
  kPublic,         // no credentials needed
  kAuthenticated,  // any valid caller (answers are filtered to what it may see)
  kPermission,     // the caller needs `permission`
  kModelUse,       // the caller needs models:use:<the requested model>, checked once it is parsed
  kOwnCredentials,  // the body carries the credential (password, refresh token); limited per
                    // client address against guessing
};

struct RouteRule {
  Protocol protocol;
  std::string_view method;  // HTTP method; "" for gRPC
  std::string_view path;    // HTTP path, or the gRPC full method name "/pkg.Service/Method"
  Access access;
  std::string_view permission;  // for kPermission
  bool limited = false;         // counts against the caller's rate limits and budget
  bool public_by_config = false;  // made public by a serve option (/metrics)
  // HTTP only: `path` ends with '/' and the rule covers every path under it (static files).
  bool prefix = false;
};

std::span<const RouteRule> RouteTable();

// The rule of a route, or null when it has none (such a route must not be served).
const RouteRule* FindRouteRule(Protocol protocol, std::string_view method, std::string_view path);

}  // namespace llmux::gateway
