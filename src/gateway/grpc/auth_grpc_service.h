// The llmux.v1.Auth gRPC service (proto/llmux/v1/auth.proto) over the auth service: login and
// sessions, users, roles, API keys, the audit log and the request log, each method behind its rule
// in the route table. Offered only when authentication is on.
#pragma once

#include "auth/auth_service.h"
#include "gateway/access/access_gate.h"
#include "llmux/v1/auth.grpc.pb.h"
#include "services/requestlog/request_log.h"

namespace llmux::gateway {

class AuthGrpcService final : public v1::Auth::CallbackService {
 public:
  // All must outlive the grpc::Server this is registered with; `request_log` null: none kept.
  AuthGrpcService(auth::AuthService& auth, AccessGate& gate,
                  requestlog::RequestLog* request_log = nullptr)
      : auth_(auth), gate_(gate), request_log_(request_log) {}

  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;

  Reactor* Login(Context* c, const v1::LoginRequest* req, v1::LoginResponse* resp) override;
  Reactor* Refresh(Context* c, const v1::RefreshRequest* req, v1::LoginResponse* resp) override;
  Reactor* Logout(Context* c, const v1::RefreshRequest* req, v1::LogoutResponse* resp) override;
  Reactor* CreateUser(Context* c, const v1::CreateUserRequest* req, v1::User* resp) override;
  Reactor* ListUsers(Context* c, const v1::ListRequest* req, v1::ListUsersResponse* resp) override;
  Reactor* UpdateUser(Context* c, const v1::UpdateUserRequest* req, v1::User* resp) override;
  Reactor* DeleteUser(Context* c, const v1::IdRequest* req, v1::DeleteResponse* resp) override;
  Reactor* ListRoles(Context* c, const v1::ListRolesRequest* req, v1::ListRolesResponse* resp) override;
  Reactor* PutRole(Context* c, const v1::Role* req, v1::Role* resp) override;
  Reactor* DeleteRole(Context* c, const v1::DeleteRoleRequest* req, v1::DeleteResponse* resp) override;
  Reactor* CreateKey(Context* c, const v1::CreateKeyRequest* req, v1::CreateKeyResponse* resp) override;
  Reactor* ListKeys(Context* c, const v1::ListKeysRequest* req, v1::ListKeysResponse* resp) override;
  Reactor* RevokeKey(Context* c, const v1::IdRequest* req, v1::ApiKey* resp) override;
  Reactor* SetKeyLimits(Context* c, const v1::SetKeyLimitsRequest* req, v1::ApiKey* resp) override;
  Reactor* ListAudit(Context* c, const v1::ListAuditRequest* req, v1::ListAuditResponse* resp) override;
  Reactor* ListRequestLogs(Context* c, const v1::ListRequestLogsRequest* req,
                           v1::ListRequestLogsResponse* resp) override;

 private:
  auth::AuthService& auth_;
  AccessGate& gate_;
  requestlog::RequestLog* request_log_;
};

}  // namespace llmux::gateway
