// `llmux mcp --stdio --url ...`: a local MCP client's stdio connection forwarded to a
// running llmux's Streamable HTTP endpoint (/mcp). Each line from stdin is POSTed; the reply
// (a JSON body, or the messages of an SSE body) goes to stdout one message per line. The
// session id that initialize returns is sent with every later message, the negotiated
// protocol version after initialize, and the session is deleted at the end of the input.
//
// Requests are forwarded concurrently, each on its own thread and connection, so that a long
// tools/call holds up neither ping nor the notifications/cancelled that stops it.
// The HTTP client reads whole responses: an SSE reply's messages (progress, log messages)
// reach stdout when its stream ends, not as they are generated.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "mcp/json_rpc.h"
#include "mcp/stdio_lines.h"

namespace llmux::cli {

struct McpBridgeOptions {
  std::string url;      // http(s)://host:port/mcp
  std::string api_key;  // sent as a Bearer token when set
  std::string ca_file;  // https: trust these certificates instead of the system store
  // A request's whole exchange (a tools/call streams until its generation ends).
  std::chrono::milliseconds request_timeout{std::chrono::hours(1)};
  // initialize, notifications, client responses and the closing DELETE.
  std::chrono::milliseconds control_timeout{std::chrono::seconds(30)};
  // How long the end of input waits for forwarded requests to come back (the DELETE makes
  // the server end their streams).
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};
  size_t max_response_bytes = 64 * 1024 * 1024;
  size_t max_message_bytes = 16 * 1024 * 1024;
};

class McpHttpBridge {
 public:
  McpHttpBridge(McpBridgeOptions options, int in_fd, int out_fd);
  ~McpHttpBridge();

  // Forwards until the input ends; then deletes the session and waits (at most
  // drain_timeout) for forwarded requests. OK at the end of the input.
  Status Run();
  // Forwarded requests that had not come back when Run returned (their threads still hold
  // only shared state; the process may exit under them).
  int abandoned() const { return abandoned_; }

  struct State;

 private:
  void ForwardInitialize(const mcp::Message& message, const mcp::Json& raw);
  void ForwardRequest(mcp::Message message, mcp::Json raw);
  void ForwardOther(const mcp::Message& message, const mcp::Json& raw);
  void EndSession();

  mcp::LineReader reader_;
  std::shared_ptr<State> state_;
  int abandoned_ = 0;
};

// The data of each event of a text/event-stream body (multi-line data joined by '\n').
std::vector<std::string> SseEventData(std::string_view body);

}  // namespace llmux::cli
