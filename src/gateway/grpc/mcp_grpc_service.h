// The llmux.v1.Mcp gRPC service (proto/llmux/v1/mcp.proto, callback API): MCP's JSON-RPC
// messages over gRPC, handed to the same McpServer and SessionRegistry as /mcp.
//   Call     one message, answered with every message it produced once it finished;
//            sessions are opened by initialize and named by session_id.
//   Session  a bidirectional stream that is one session (registered in the SessionRegistry,
//            so list changes and resource updates reach it), ended with the stream.
// Every call passes the AccessGate with its route rule; on the Session stream every request
// passes it again (rate limits count requests, as over HTTP). A session belongs to the
// subject of the credential that opened it.
#pragma once

#include "gateway/access/access_gate.h"
#include "llmux/v1/mcp.grpc.pb.h"

namespace llmux::mcp {
class McpServer;
class SessionRegistry;
}  // namespace llmux::mcp

namespace llmux::gateway {

class McpGrpcService final : public v1::Mcp::CallbackService {
 public:
  // `server`, `sessions` and `gate` must outlive every call, i.e. the grpc::Server this is
  // registered with. A null gate: no access checks, every caller is "anonymous" (tests).
  McpGrpcService(mcp::McpServer& server, mcp::SessionRegistry& sessions, AccessGate* gate = nullptr)
      : server_(server), sessions_(sessions), gate_(gate) {}

  // The generated base also declares the synchronous signatures; keep them visible.
  using v1::Mcp::CallbackService::Call;
  using v1::Mcp::CallbackService::Session;

  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const v1::McpCallRequest* request,
                                 v1::McpCallResponse* response) override;
  grpc::ServerBidiReactor<v1::JsonRpcMessage, v1::JsonRpcMessage>* Session(
      grpc::CallbackServerContext* context) override;

 private:
  mcp::McpServer& server_;
  mcp::SessionRegistry& sessions_;
  AccessGate* gate_;
};

}  // namespace llmux::gateway
