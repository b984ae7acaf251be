// Authentication, authorization and admission of one call against its RouteRule: the one
// place every front end (HTTP, gRPC, MCP) asks "may this caller do this now?". Refusals are
// recorded in the audit log. With auth switched off (--no-auth) every caller is an
// anonymous admin and nothing is limited.
#pragma once

#include <chrono>
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
#include "gateway/access/tracked_sink.h"

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

// One admitted call. Keep it for the call's lifetime. A generation runs through Track(), which
// charges its tokens and records it in the request log; a call that ends before one starts
// (an invalid request, a model it may not use) tells Refuse() why.
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

  // The sink to submit this call's generation with: it passes everything on to `sink`, charges
  // the tokens at the finish (keeping the admission, its concurrency slot held, until then or
  // until it is dropped: the engine's finish may outlive the handler) and records the call in
  // the gate's request log, if it keeps one. `prompt`: the prompt text, kept only when the log
  // stores prompts (keeps_prompts()).
  std::shared_ptr<TrackedSink> Track(std::shared_ptr<serving::Sink> sink, std::string_view model,
                                     std::string prompt = {}) const;
  // Records a call that ended before its generation started, and why.
  void Refuse(const Status& why, std::string_view model = {}) const;
  // Whether Track's prompt text would be kept (front ends build it only then).
  bool keeps_prompts() const;

 private:
  friend class AccessGate;
  requestlog::RequestRecord NewRecord(std::string_view model) const;

  class AccessGate* gate_ = nullptr;
  const RouteRule* rule_ = nullptr;
  auth::Principal principal_;
  std::string source_;
  std::string share_;
  std::shared_ptr<auth::UsageLease> lease_;
  std::shared_ptr<CallerShares::Slot> call_slot_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  int64_t start_ms_ = 0;  // unix ms at admission
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
  // Where the generations of admitted calls are recorded (CallAccess::Track and Refuse); null:
  // nowhere. Set before serving; `log` must outlive the gate.
  void SetRequestLog(requestlog::RequestLog* log) { request_log_ = log; }
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
  requestlog::RequestLog* request_log_ = nullptr;
};

// The token of an "Authorization: Bearer <token>" header value; empty for other schemes.
std::string_view BearerToken(std::string_view authorization);

// The client address of a call's source without its port: "10.0.0.1" from the HTTP server's
// "10.0.0.1:5" and from gRPC's "ipv4:10.0.0.1:5", "::1" from "[::1]:5" and "ipv6:[::1]:5".
std::string SourceAddress(std::string_view source);

}  // namespace llmux::gateway
