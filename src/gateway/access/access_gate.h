// Authentication, authorization and admission of one call against its RouteRule: the one
// place every front end (HTTP, gRPC, MCP) asks "may this caller do this now?". Refusals are
// recorded in the audit log. With auth switched off (--no-auth) every caller is an
// anonymous admin and nothing is limited.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "auth/auth_service.h"
#include "auth/rate_limiter.h"
#include "base/caller_shares.h"
#include "base/status.h"
#include "gateway/access/origin_check.h"
#include "gateway/access/route_table.h"

namespace llmux::gateway {

struct AccessGateOptions {
  bool public_metrics = false;  // /metrics without credentials
  // Login and refresh attempts per minute from one client address.
  int64_t credential_attempts_per_minute = 30;
  // With authentication off, anything that reaches the port may call, a browser too: then every
  // route refuses foreign origins and bodies that are not JSON (which a page could send
  // cross-site without a CORS preflight).
  OriginPolicy browser_origins;
  // Limited calls (generations, MCP requests and gRPC MCP sessions) one caller may have in
  // flight at once, streams included: its share, so that one caller cannot hold every stream
  // the server can serve. 0: no share (a key's own concurrency limit still applies). With
  // authentication off there is one caller and no share.
  size_t calls_per_caller = 64;
};

// One admitted call. Keep it for the call's lifetime; Charge() the tokens it used.
class CallAccess {
 public:
  const auth::Principal& principal() const { return principal_; }
  const std::string& source() const { return source_; }
  // Whose shares of the server's capacities (calls, MCP sessions, the waiting queue) this
  // call counts against: the owning user for a user's key or login ("user:3", so a user's keys
  // share one), else the principal's subject. Empty with authentication off: no shares.
  const std::string& share() const { return share_; }

  // For Access::kModelUse routes, once the request names its model: kPermissionDenied
  // (audited) when the caller may not use it.
  Status AllowModel(std::string_view model);
  // Charges prompt + completion tokens to the caller's limits (once; later calls add nothing).
  void Charge(int64_t tokens);
  // The same, as a callable that keeps the admission alive (its concurrency slot held) until
  // it is called or dropped: for the engine's finish callback, which may outlive the handler.
  std::function<void(int64_t)> Charger() const;

 private:
  friend class AccessGate;
  class AccessGate* gate_ = nullptr;
  const RouteRule* rule_ = nullptr;
  auth::Principal principal_;
  std::string source_;
  std::string share_;
  std::shared_ptr<auth::UsageLease> lease_;
  std::shared_ptr<CallerShares::Slot> call_slot_;
};

struct AccessDecision {
  Status status;              // OK, kUnauthenticated, kPermissionDenied, kResourceExhausted, ...
  int64_t retry_after_s = 0;  // for kResourceExhausted
  std::unique_ptr<CallAccess> access;  // when OK
};

class AccessGate {
 public:
  // `auth` and `limiter` null: auth is off. Both must outlive the gate.
  AccessGate(auth::AuthService* auth, auth::RateLimiter* limiter, AccessGateOptions options = {});

  bool auth_enabled() const { return auth_ != nullptr; }
  const AccessGateOptions& options() const { return options_; }

  // `bearer`: the credential without "Bearer " (empty when none was sent); `source`: the
  // client address.
  AccessDecision Check(const RouteRule& rule, std::string_view bearer, std::string_view source);

 private:
  friend class CallAccess;
  void Deny(const auth::Principal* who, const RouteRule& rule, std::string_view source,
            const Status& why);

  auth::AuthService* auth_;
  auth::RateLimiter* limiter_;
  AccessGateOptions options_;
  CallerShares calls_;
};

// The token of an "Authorization: Bearer <token>" header value; empty for other schemes.
std::string_view BearerToken(std::string_view authorization);

// The client address of a call's source without its port: "10.0.0.1" from the HTTP server's
// "10.0.0.1:5" and from gRPC's "ipv4:10.0.0.1:5", "::1" from "[::1]:5" and "ipv6:[::1]:5".
std::string SourceAddress(std::string_view source);

}  // namespace llmux::gateway
