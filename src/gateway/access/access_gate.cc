#include "gateway/access/access_gate.h"

#include "auth/permissions.h"

namespace llmux::gateway {

namespace {

std::string RouteName(const RouteRule& rule) {
  std::string name(rule.method);
  if (!name.empty()) name += " ";
  name += rule.path;
  return name;
}

}  // namespace

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::string SourceAddress(std::string_view source) {
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (source.substr(0, scheme.size()) == scheme) source.remove_prefix(scheme.size());
  }
  if (!source.empty() && source.front() == '[') {  // [v6]:port
    const size_t close = source.find(']');
    if (close != std::string_view::npos) return std::string(source.substr(1, close - 1));
  }
  // One colon: v4:port or name:port; more: a bare IPv6 address.
  const size_t colon = source.find(':');
  if (colon != std::string_view::npos && source.find(':', colon + 1) == std::string_view::npos) {
    source = source.substr(0, colon);
  }
  return std::string(source);
}

AccessGate::AccessGate(auth::AuthService* auth, auth::RateLimiter* limiter,
                       AccessGateOptions options)
    : auth_(auth), limiter_(limiter), options_(options), calls_(options.calls_per_caller) {}

void AccessGate::Deny(const auth::Principal* who, const RouteRule& rule, std::string_view source,
                      const Status& why) {
  if (auth_ != nullptr) auth_->RecordDenied(who, RouteName(rule), rule.path, source, why.message());
}

AccessDecision AccessGate::Check(const RouteRule& rule, std::string_view bearer,
                                 std::string_view source) {
  AccessDecision d;
  auto access = std::make_unique<CallAccess>();
  access->gate_ = this;
  access->rule_ = &rule;
  access->source_ = std::string(source);
  access->start_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();

  const bool is_public =
      rule.access == Access::kPublic || (rule.public_by_config && options_.public_metrics);
  if (auth_ == nullptr || is_public) {
    access->principal_ = auth::AnonymousAdmin();
    if (auth_ != nullptr) access->principal_.permissions = auth::PermissionSet();
    d.access = std::move(access);
    return d;
  }

  if (rule.access == Access::kOwnCredentials) {
    // Nobody to authenticate yet: the handler checks the body's credential. Guessing is
    // slowed per client address.
    access->principal_ = auth::Principal();
    access->principal_.subject = "anonymous";
    if (limiter_ != nullptr) {
      auth::Principal address;
      address.subject = "address:" + SourceAddress(source);
      address.limits.requests_per_minute = options_.credential_attempts_per_minute;
      auth::Admission admission = limiter_->Admit(address);
      if (!admission.status.ok()) {
        d.status = ResourceExhaustedError("too many login attempts from this address");
        d.retry_after_s = admission.retry_after_s;
        Deny(nullptr, rule, source, d.status);
        return d;
      }
    }
    d.access = std::move(access);
    return d;
  }

  auto principal = auth_->Authenticate(bearer);
  if (!principal.ok()) {
    if (principal.status().code() == StatusCode::kUnauthenticated) Deny(nullptr, rule, source, principal.status());
    d.status = principal.status();
    return d;
  }
  access->principal_ = std::move(principal).value();

  if (rule.access == Access::kPermission && !is_public &&
      !access->principal_.Allows(rule.permission)) {
    d.status = PermissionDeniedError("this route needs the permission " + std::string(rule.permission));
    Deny(&access->principal_, rule, source, d.status);
    return d;
  }
  const auth::Principal& who = access->principal_;
  access->share_ = who.user_id != 0 ? "user:" + std::to_string(who.user_id) : who.subject;
  if (rule.limited) {
    // The share is checked first, so a call it refuses takes nothing from the rate limits.
    access->call_slot_ = calls_.TryAcquire(access->share_);
    if (!access->call_slot_) {
      d.status = ResourceExhaustedError(
          "this caller already has " + std::to_string(calls_.per_caller()) +
          " calls in flight, its share of the server; wait for one to end");
      d.retry_after_s = 1;
      Deny(&access->principal_, rule, source, d.status);
      return d;
    }
  }
  if (rule.limited && limiter_ != nullptr) {
    auth::Admission admission = limiter_->Admit(access->principal_);
    if (!admission.status.ok()) {
      d.status = admission.status;
      d.retry_after_s = admission.retry_after_s;
      Deny(&access->principal_, rule, source, d.status);
      return d;
    }
    access->lease_ = std::move(admission.lease);
  }
  d.access = std::move(access);
  return d;
}

Status CallAccess::AllowModel(std::string_view model) {
  if (gate_->auth_ == nullptr || principal_.MayUseModel(model)) return Status::Ok();
  Status denied = PermissionDeniedError("this caller may not use the model '" + std::string(model) + "'")
                      .WithField("model");
  gate_->Deny(&principal_, *rule_, source_, denied);
  return denied;
}

void CallAccess::Charge(int64_t tokens) {
  if (lease_) lease_->Finish(tokens);
}

requestlog::RequestRecord CallAccess::NewRecord(std::string_view model) const {
  requestlog::RequestRecord r;
  r.time_ms = start_ms_;
  r.protocol = rule_->protocol == Protocol::kGrpc ? "grpc" : "http";
  r.route = RouteName(*rule_);
  r.principal = principal_.subject;
  r.user_id = principal_.user_id;
  r.key_id = principal_.key_id;
  r.model = std::string(model);
  r.client = SourceAddress(source_);
  return r;
}

std::shared_ptr<TrackedSink> CallAccess::Track(std::shared_ptr<serving::Sink> sink,
                                               std::string_view model, std::string prompt) const {
  requestlog::RequestRecord record;
  requestlog::RequestLog* log = gate_->request_log_;
  if (log != nullptr) {
    record = NewRecord(model);
    if (keeps_prompts()) record.prompt = std::move(prompt);
  }
  return std::make_shared<TrackedSink>(std::move(sink), lease_, call_slot_, log, std::move(record),
                                       start_);
}

void CallAccess::Refuse(const Status& why, std::string_view model) const {
  requestlog::RequestLog* log = gate_->request_log_;
  if (log == nullptr) return;
  requestlog::RequestRecord r = NewRecord(model);
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start_)
                     .count();
  SetOutcome(r, why, false);
  log->Record(std::move(r));
}

bool CallAccess::keeps_prompts() const {
  return gate_->request_log_ != nullptr && gate_->request_log_->options().store_prompts;
}

}  // namespace llmux::gateway
