// The MCP protocol over any transport: lifecycle (initialize, version negotiation, ping),
// tools, resources (with subscriptions), prompts, completion, logging and cancellation, over
// a Catalog. Transports (Streamable HTTP, stdio, gRPC) parse messages, find the session and
// the caller, and hand each message here with an Outbound for the reply.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/caller.h"
#include "mcp/catalog.h"
#include "mcp/json_rpc.h"
#include "mcp/outbound.h"
#include "mcp/session.h"

namespace llmux::mcp {

// Protocol versions this server speaks, newest first. The first is what initialize offers a
// client that asks for a version we do not know.
const std::vector<std::string>& SupportedProtocolVersions();
inline constexpr const char* kLatestProtocolVersion = "2025-11-25";
bool IsSupportedProtocolVersion(std::string_view version);
// The stateless protocol (spec 2026-07-28): no initialize and no session; every request
// carries the protocol version and the client's capabilities in params._meta.
inline constexpr const char* kStatelessProtocolVersion = "2026-07-28";
// Error codes of the 2026-07-28 transport.
namespace rpc_error {
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingRequiredClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;
}  // namespace rpc_error

struct McpServerOptions {
  std::string name = "llmux";
  std::string title = "llmux";
  std::string version = "0.1.0";
  std::string instructions =
      "llmux serves local language models. Call list_models to see them and chat to talk to one.";
  size_t page_size = 100;  // entries per page of tools/list, resources/list, prompts/list
};

struct RequestContext {
  std::shared_ptr<Caller> caller;
  std::shared_ptr<Session> session;  // null for a request outside any session
  // A stateless request (spec 2026-07-28): results carry resultType (and caching hints),
  // methods of the session era are unknown, and the client's capabilities and log level come
  // from the request's _meta.
  bool stateless = false;
  Json client_capabilities = Json::object();
  std::optional<LogLevel> log_level = std::nullopt;  // stateless: none means no log messages
};

// How the error of a request whose handler threw begins (-32603): a defect in llmux, which the
// fuzz target looks for.
inline constexpr std::string_view kHandlerDefect = "Internal error: the handler failed: ";

class McpServer {
 public:
  McpServer(McpServerOptions options, std::shared_ptr<Catalog> catalog);

  // Handles one request: its response (and related notifications) go to `out`, now or later
  // from another thread. Returns a callable that cancels the request (for a transport whose
  // client went away), or null when the request already finished. A handler that throws is a
  // defect, not the caller's doing: its request is answered with an internal error and the
  // exception goes no further, so no transport ends over it.
  std::function<void()> HandleRequest(const Message& request, const RequestContext& context,
                                      std::shared_ptr<Outbound> out);
  // Handles a notification or a response to a request the server sent. Nothing is answered.
  void HandleNotification(const Message& message, const RequestContext& context);

  // Tells every session subscribed to `uri` that it changed.
  void NotifyResourceUpdated(SessionRegistry& sessions, const std::string& uri);
  // Tells every session that a list changed: "tools", "resources" or "prompts".
  void NotifyListChanged(SessionRegistry& sessions, const std::string& list);

  Catalog& catalog() { return *catalog_; }
  const McpServerOptions& options() const { return options_; }
  // The result of initialize for a client asking for `requested_version`.
  Json InitializeResult(const std::string& requested_version) const;
  Json ServerCapabilities() const;
  // The result of server/discover (stateless protocol).
  Json DiscoverResult() const;

 private:
  std::function<void()> DispatchRequest(const Message& request, const RequestContext& context,
                                        std::shared_ptr<Outbound> out);
  void HandleNotificationOrResponse(const Message& message, const RequestContext& context);
  Result<Json> Initialize(const Json& params, const RequestContext& context);
  Result<Json> ListTools(const Json& params, Caller& caller);
  std::function<void()> CallTool(const Message& request, const RequestContext& context,
                                 std::shared_ptr<Outbound> out);
  Result<Json> ListResources(const Json& params, const Caller& caller);
  Result<Json> ListResourceTemplates(const Json& params);
  Result<Json> ReadResource(const Json& params, Caller& caller);
  Result<Json> Subscribe(const Json& params, const RequestContext& context, bool subscribe);
  Result<Json> ListPrompts(const Json& params);
  Result<Json> GetPrompt(const Json& params);
  Result<Json> Complete(const Json& params, const Caller& caller);
  Result<Json> SetLogLevel(const Json& params, const RequestContext& context);

  McpServerOptions options_;
  std::shared_ptr<Catalog> catalog_;
};

}  // namespace llmux::mcp
