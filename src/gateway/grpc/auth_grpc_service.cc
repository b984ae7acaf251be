#include "gateway/grpc/auth_grpc_service.h"

#include "gateway/grpc/auth_proto_conversion.h"
#include "gateway/grpc/grpc_access.h"
#include "gateway/grpc/status_mapping.h"

namespace llmux::gateway {

namespace {

auth::Actor ActorOf(const CallAccess& access) { return auth::Actor{access.principal(), access.source()}; }

}  // namespace

using Reactor = AuthGrpcService::Reactor;
using Context = AuthGrpcService::Context;

Reactor* AuthGrpcService::Login(Context* c, const v1::LoginRequest* req, v1::LoginResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/Login", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::LoginTokens tokens, auth_.Login(req->username(), req->password(), access.source()));
    FillLoginTokens(tokens, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::Refresh(Context* c, const v1::RefreshRequest* req, v1::LoginResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/Refresh", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::LoginTokens tokens, auth_.Refresh(req->refresh_token(), access.source()));
    FillLoginTokens(tokens, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::Logout(Context* c, const v1::RefreshRequest* req, v1::LogoutResponse*) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/Logout", [&](CallAccess& access) -> Status {
    return auth_.Logout(req->refresh_token(), access.source());
  });
}

Reactor* AuthGrpcService::CreateUser(Context* c, const v1::CreateUserRequest* req, v1::User* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/CreateUser", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::User user, auth_.CreateUser(ActorOf(access), NewUserFromProto(*req)));
    FillUser(user, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::ListUsers(Context* c, const v1::ListRequest* req, v1::ListUsersResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/ListUsers", [&](CallAccess&) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageFromProto(req->limit(), req->after()));
    LLMUX_ASSIGN_OR_RETURN(auto users, auth_.ListUsers(page));
    for (const auto& u : users.items) FillUser(u, resp->add_users());
    resp->set_has_more(users.has_more);
    resp->set_next_cursor(users.next_cursor);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::UpdateUser(Context* c, const v1::UpdateUserRequest* req, v1::User* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/UpdateUser", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::User user,
                           auth_.UpdateUser(ActorOf(access), req->id(), UserUpdateFromProto(*req)));
    FillUser(user, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::DeleteUser(Context* c, const v1::IdRequest* req, v1::DeleteResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/DeleteUser", [&](CallAccess& access) -> Status {
    LLMUX_RETURN_IF_ERROR(auth_.DeleteUser(ActorOf(access), req->id()));
    resp->set_deleted(true);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::ListRoles(Context* c, const v1::ListRolesRequest*, v1::ListRolesResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/ListRoles", [&](CallAccess&) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auto roles, auth_.ListRoles());
    for (const auto& r : roles) FillRole(r, resp->add_roles());
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::PutRole(Context* c, const v1::Role* req, v1::Role* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/PutRole", [&](CallAccess& access) -> Status {
    auth::Role role{req->name(), {req->permissions().begin(), req->permissions().end()}, false};
    LLMUX_RETURN_IF_ERROR(auth_.PutRole(ActorOf(access), role));
    FillRole(role, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::DeleteRole(Context* c, const v1::DeleteRoleRequest* req, v1::DeleteResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/DeleteRole", [&](CallAccess& access) -> Status {
    LLMUX_RETURN_IF_ERROR(auth_.DeleteRole(ActorOf(access), req->name()));
    resp->set_deleted(true);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::CreateKey(Context* c, const v1::CreateKeyRequest* req, v1::CreateKeyResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/CreateKey", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::CreatedKey created, auth_.CreateKey(ActorOf(access), NewKeyFromProto(*req)));
    FillApiKey(created.key, resp->mutable_api_key());
    resp->set_key(created.full_key);  // the only time the secret is returned
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::ListKeys(Context* c, const v1::ListKeysRequest* req, v1::ListKeysResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/ListKeys", [&](CallAccess&) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageFromProto(req->limit(), req->after()));
    std::optional<int64_t> owner;
    if (req->has_owner_user_id()) owner = req->owner_user_id();
    LLMUX_ASSIGN_OR_RETURN(auto keys, auth_.ListKeys(page, owner));
    for (const auto& k : keys.items) FillApiKey(k, resp->add_keys());
    resp->set_has_more(keys.has_more);
    resp->set_next_cursor(keys.next_cursor);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::RevokeKey(Context* c, const v1::IdRequest* req, v1::ApiKey* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/RevokeKey", [&](CallAccess& access) -> Status {
    LLMUX_RETURN_IF_ERROR(auth_.RevokeKey(ActorOf(access), req->id()));
    LLMUX_ASSIGN_OR_RETURN(auth::ApiKey key, auth_.GetKey(req->id()));
    FillApiKey(key, resp);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::SetKeyLimits(Context* c, const v1::SetKeyLimitsRequest* req, v1::ApiKey* resp) {
  return AdmitAndRunUnary(
      gate_, c, "/llmux.v1.Auth/SetKeyLimits", [&](CallAccess& access) -> Status {
        LLMUX_RETURN_IF_ERROR(
            auth_.SetKeyLimits(ActorOf(access), req->id(), LimitsFromProto(req->limits())));
        LLMUX_ASSIGN_OR_RETURN(auth::ApiKey key, auth_.GetKey(req->id()));
        FillApiKey(key, resp);
        return Status::Ok();
      });
}

Reactor* AuthGrpcService::ListAudit(Context* c, const v1::ListAuditRequest* req, v1::ListAuditResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/ListAudit", [&](CallAccess&) -> Status {
    LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageFromProto(req->limit(), 0));
    if (req->before() < 0)
      return InvalidArgumentError("before must not be negative").WithField("before");
    LLMUX_ASSIGN_OR_RETURN(auto events, auth_.ListAudit(audit::Page{req->before(), page.limit}));
    for (const auto& e : events.items) FillAuditEvent(e, resp->add_events());
    resp->set_has_more(events.has_more);
    resp->set_next_cursor(events.next_cursor);
    return Status::Ok();
  });
}

Reactor* AuthGrpcService::ListRequestLogs(Context* c, const v1::ListRequestLogsRequest* req,
                                          v1::ListRequestLogsResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Auth/ListRequestLogs", [&](CallAccess&) -> Status {
    if (request_log_ == nullptr) return UnimplementedError("this server keeps no request log");
    LLMUX_ASSIGN_OR_RETURN(requestlog::RequestFilter filter, RequestFilterFromProto(*req));
    const int limit = req->limit() == 0 ? 50 : req->limit();
    LLMUX_ASSIGN_OR_RETURN(
        auto list, request_log_->List(filter, requestlog::RequestPage{req->cursor(), limit}));
    for (const auto& r : list.items) FillRequestRecord(r, resp->add_records());
    resp->set_has_more(list.has_more);
    resp->set_next_cursor(list.next_cursor);
    return Status::Ok();
  });
}

}  // namespace llmux::gateway
