// MCP's stdio transport (spec 2025-11-25, "stdio"): the client starts the server as a child
// process and writes JSON-RPC messages to its stdin, one per line; the server answers on
// stdout, one message per line, and logs to stderr only. The connection is one session,
// created when the transport starts (initialize negotiates on it). Requests run concurrently:
// each is handed to the McpServer on its own short-lived thread, so a tool that takes its
// time does not hold up ping or notifications/cancelled. End of input ends the session: tool
// calls in flight are cancelled (and answer nothing), requests that need no tool still get
// their answer, then the output closes.
//
// The output descriptor may be a pipe whose reader goes away; the process should ignore
// SIGPIPE so that such a write fails (and output stops) instead of killing it.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "mcp/caller.h"
#include "mcp/mcp_server.h"
#include "mcp/session.h"
#include "mcp/stdio_lines.h"

namespace llmux::mcp {

struct StdioTransportOptions {
  size_t max_message_bytes = 16 * 1024 * 1024;  // a longer line is refused (-32600)
  // Where the connection's session is kept, so that server-wide notifications
  // (McpServer::NotifyListChanged, NotifyResourceUpdated) reach it; it is removed at the end.
  // Null: a session of its own, named "stdio".
  SessionRegistry* sessions = nullptr;
};

class StdioTransport {
 public:
  // `server` (and options.sessions) must outlive the transport; `caller` is who every message
  // comes from. kResourceExhausted when the registry has no room for the session.
  static Result<std::unique_ptr<StdioTransport>> Create(McpServer& server,
                                                        std::shared_ptr<Caller> caller, int in_fd,
                                                        int out_fd,
                                                        StdioTransportOptions options = {});
  // With a session of its own (options.sessions is ignored).
  StdioTransport(McpServer& server, std::shared_ptr<Caller> caller, int in_fd, int out_fd,
                 StdioTransportOptions options = {});
  ~StdioTransport();
  StdioTransport(const StdioTransport&) = delete;
  StdioTransport& operator=(const StdioTransport&) = delete;

  // Serves until the input ends, then cancels what is in flight and returns (at once: it
  // waits only for the handlers still inside McpServer::HandleRequest). OK at the end of the
  // input; the read error when reading failed.
  Status Run();

  const std::shared_ptr<Session>& session() const { return session_; }

 private:
  StdioTransport(McpServer& server, std::shared_ptr<Caller> caller, int in_fd, int out_fd,
                 StdioTransportOptions options, std::shared_ptr<Session> session);

  // What outlives the transport: outbounds of tool calls hold it and may still be answered
  // from engine threads after Run returned.
  struct State;

  void Dispatch(Message request);
  void HandleNotification(const Message& message);
  void Shutdown();

  McpServer& server_;
  std::shared_ptr<Caller> caller_;
  StdioTransportOptions options_;
  LineReader reader_;
  std::shared_ptr<State> state_;
  std::shared_ptr<Session> session_;
};

}  // namespace llmux::mcp
