#include "gateway/grpc/auth_proto_conversion.h"

#include "services/requestlog/request_log.h"

namespace llmux::gateway {

void FillLimits(const auth::Limits& l, v1::Limits* out) {
  out->set_requests_per_minute(l.requests_per_minute);
  out->set_tokens_per_minute(l.tokens_per_minute);
  out->set_max_concurrent(l.max_concurrent);
  out->set_token_budget(l.token_budget);
  out->set_budget_period_seconds(l.budget_period_seconds);
}

auth::Limits LimitsFromProto(const v1::Limits& l) {
  return auth::Limits{l.requests_per_minute(), l.tokens_per_minute(), l.max_concurrent(),
                       l.token_budget(), l.budget_period_seconds()};
}

void FillUser(const auth::User& u, v1::User* out) {
  out->set_id(u.id);
  out->set_name(u.name);
  for (const auto& r : u.roles) out->add_roles(r);
  out->set_disabled(u.disabled);
  out->set_created_at(u.created_at);
  FillLimits(u.limits, out->mutable_limits());
}

void FillRole(const auth::Role& r, v1::Role* out) {
  out->set_name(r.name);
  for (const auto& p : r.permissions) out->add_permissions(p);
  out->set_builtin(r.builtin);
}

void FillApiKey(const auth::ApiKey& k, v1::ApiKey* out) {
  out->set_id(k.id);
  out->set_prefix("llmux_" + k.prefix);
  out->set_owner_user_id(k.owner_user_id);
  out->set_name(k.name);
  for (const auto& s : k.scopes) out->add_scopes(s);
  for (const auto& m : k.allowed_models) out->add_allowed_models(m);
  out->set_expires_at(k.expires_at);
  out->set_revoked_at(k.revoked_at);
  out->set_last_used_at(k.last_used_at);
  out->set_created_at(k.created_at);
  FillLimits(k.limits, out->mutable_limits());
}

void FillAuditEvent(const audit::Event& e, v1::AuditEvent* out) {
  out->set_id(e.id);
  out->set_time_ms(e.time_ms);
  out->set_actor(e.actor);
  out->set_action(e.action);
  out->set_target(e.target);
  out->set_source(e.source);
  out->set_outcome(e.outcome);
  out->set_detail(e.detail);
}

void FillRequestRecord(const requestlog::RequestRecord& r, v1::RequestLogRecord* out) {
  out->set_id(r.id);
  out->set_time_ms(r.time_ms);
  out->set_protocol(r.protocol);
  out->set_route(r.route);
  out->set_principal(r.principal);
  out->set_user_id(r.user_id);
  out->set_key_id(r.key_id);
  out->set_model(r.model);
  out->set_model_version(r.model_version);
  out->set_prompt_tokens(r.prompt_tokens);
  out->set_completion_tokens(r.completion_tokens);
  out->set_cached_tokens(r.cached_tokens);
  out->set_ttft_ms(r.ttft_ms);
  out->set_latency_ms(r.latency_ms);
  out->set_status(r.status);
  out->set_error_class(r.error_class);
  out->set_client(r.client);
  out->set_prompt(r.prompt);
}

Result<requestlog::RequestFilter> RequestFilterFromProto(const v1::ListRequestLogsRequest& req) {
  requestlog::RequestFilter f;
  for (auto [name, v] : {std::pair{"from_ms", req.from_ms()},
                         {"to_ms", req.to_ms()},
                         {"key_id", req.key_id()},
                         {"user_id", req.user_id()}}) {
    if (v < 0)
      return InvalidArgumentError(std::string(name) + " must not be negative").WithField(name);
  }
  f.from_ms = req.from_ms();
  f.to_ms = req.to_ms();
  if (f.from_ms > 0 && f.to_ms > 0 && f.to_ms <= f.from_ms) {
    return InvalidArgumentError("to_ms must be after from_ms").WithField("to_ms");
  }
  if (req.key_id() != 0) f.key_id = req.key_id();
  if (req.user_id() != 0) f.user_id = req.user_id();
  f.model = req.model();
  if (!req.status().empty()) LLMUX_RETURN_IF_ERROR(requestlog::ParseStatusMatch(req.status(), f));
  return f;
}

void FillLoginTokens(const auth::LoginTokens& t, v1::LoginResponse* out) {
  out->set_access_token(t.access_token);
  out->set_expires_in(t.expires_in);
  out->set_refresh_token(t.refresh_token);
  out->set_refresh_expires_in(t.refresh_expires_in);
}

auth::NewUser NewUserFromProto(const v1::CreateUserRequest& r) {
  auth::NewUser u;
  u.name = r.name();
  u.password = r.password();
  if (r.roles_size() > 0) u.roles.assign(r.roles().begin(), r.roles().end());
  u.limits = LimitsFromProto(r.limits());
  return u;
}

auth::UserUpdate UserUpdateFromProto(const v1::UpdateUserRequest& r) {
  auth::UserUpdate u;
  if (r.has_password()) u.password = r.password();
  if (r.set_roles()) u.roles = std::vector<std::string>(r.roles().begin(), r.roles().end());
  if (r.has_disabled()) u.disabled = r.disabled();
  if (r.has_limits()) u.limits = LimitsFromProto(r.limits());
  return u;
}

auth::NewKey NewKeyFromProto(const v1::CreateKeyRequest& r) {
  auth::NewKey k;
  k.owner_user_id = r.owner_user_id();
  k.name = r.name();
  k.scopes.assign(r.scopes().begin(), r.scopes().end());
  k.allowed_models.assign(r.allowed_models().begin(), r.allowed_models().end());
  k.expires_at = r.expires_at();
  k.limits = LimitsFromProto(r.limits());
  return k;
}

Result<auth::Page> PageFromProto(int32_t limit, int64_t after) {
  auth::Page page;
  if (limit != 0) {
    if (limit < 1 || limit > 1000) return InvalidArgumentError("limit must be 1 to 1000").WithField("limit");
    page.limit = limit;
  }
  if (after < 0) return InvalidArgumentError("after must not be negative").WithField("after");
  page.after_id = after;
  return page;
}

}  // namespace llmux::gateway
