// Conversions between llmux.v1.Auth messages and the auth, audit and request log services' types.
// Hashes never reach a message.
#pragma once

#include "auth/auth_service.h"
#include "llmux/v1/auth.pb.h"
#include "services/audit/audit_log.h"
#include "services/requestlog/request_record.h"

namespace llmux::gateway {

void FillLimits(const auth::Limits& limits, v1::Limits* out);
auth::Limits LimitsFromProto(const v1::Limits& limits);
void FillUser(const auth::User& user, v1::User* out);
void FillRole(const auth::Role& role, v1::Role* out);
void FillApiKey(const auth::ApiKey& key, v1::ApiKey* out);
void FillAuditEvent(const audit::Event& event, v1::AuditEvent* out);
void FillLoginTokens(const auth::LoginTokens& tokens, v1::LoginResponse* out);
void FillRequestRecord(const requestlog::RequestRecord& record, v1::RequestLogRecord* out);
// INVALID_ARGUMENT for negative ids or times, to <= from, or a malformed status.
Result<requestlog::RequestFilter> RequestFilterFromProto(const v1::ListRequestLogsRequest& request);

auth::NewUser NewUserFromProto(const v1::CreateUserRequest& request);
auth::UserUpdate UserUpdateFromProto(const v1::UpdateUserRequest& request);
auth::NewKey NewKeyFromProto(const v1::CreateKeyRequest& request);
// limit 0 means the default (50); beyond 1..1000 is INVALID_ARGUMENT.
Result<auth::Page> PageFromProto(int32_t limit, int64_t after);

}  // namespace llmux::gateway
