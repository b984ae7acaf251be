#include "gateway/mcp/mcp_http_routes.h"

#include <boost/asio/awaitable.hpp>
#include <atomic>
#include <memory>
#include <optional>

#include "base/json_nesting.h"
#include "gateway/access/http_guard.h"
#include "gateway/mcp/access_caller.h"
#include "gateway/openai/openai_format.h"
#include "mcp/mcp_server.h"
#include "mcp/session.h"
#include "net/http/async_queue.h"
#include "net/http/http_server.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using mcp::Json;

constexpr const char* kJson = "application/json";
constexpr const char* kSessionHeader = "Mcp-Session-Id";
constexpr const char* kVersionHeader = "MCP-Protocol-Version";

// One message on its way to the HTTP handler; `final` marks the response (or, when null, the
// end without one).
struct Item {
  Json message;
  bool final = false;
};
using ItemQueue = http::AsyncQueue<Item>;

class QueueOutbound : public mcp::Outbound {
 public:
  QueueOutbound() : queue_(std::make_shared<ItemQueue>()) {}
  void Send(Json message) override { queue_->Push(Item{std::move(message), false}); }
  void Finish(Json response) override {
    queue_->Push(Item{std::move(response), true});
    queue_->Close();
  }
  const std::shared_ptr<ItemQueue>& queue() const { return queue_; }

 private:
  std::shared_ptr<ItemQueue> queue_;
};

http::Response RpcError(int status, int code, std::string message, Json id = nullptr) {
  mcp::RpcError error{code, std::move(message), std::nullopt};
  return http::Response{status, kJson, mcp::Serialize(mcp::ErrorMessage(id, error)), {}};
}

std::string Header(const http::Request& req, std::string_view name) {
  auto v = req.headers.Get(name);
  return v ? std::string(*v) : std::string();
}

// Whether a comma-separated Accept header lists `type` (or a wildcard covering it).
bool Accepts(const std::string& accept, std::string_view type) {
  if (accept.find(type) != std::string::npos) return true;
  return accept.find("*/*") != std::string::npos;
}

std::string BaseUrl(const http::Request& req) {
  std::string host = Header(req, "Host");
  if (host.empty()) host = "localhost";
  std::string base = req.tls ? "https://" : "http://";
  base += host;
  return base;
}

std::string ResourceMetadataUrl(const http::Request& req) {
  std::string url = BaseUrl(req);
  url += "/.well-known/oauth-protected-resource/mcp";
  return url;
}

// Event ids are unique across every stream of the server, as the spec asks within a session.
std::string SseEvent(const Json& message) {
  static std::atomic<uint64_t> next_id{0};
  std::string event = "id: ";
  event += std::to_string(++next_id);
  event += "\nevent: message\ndata: ";
  event += mcp::Serialize(message);
  event += "\n\n";
  return event;
}

http::Headers SseHeaders() {
  return http::Headers{{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
}

// The HTTP status of a whole JSON reply. The stateless protocol (2026-07-28) answers
// malformed requests with 400 and unknown methods with 404; the session protocol always 200.
int ReplyStatus(const Json& response, bool stateless) {
  if (!stateless || !response.contains("error")) return 200;
  const int code = response["error"].value("code", 0);
  if (code == mcp::rpc_error::kMethodNotFound) return 404;
  if (code == mcp::rpc_error::kInvalidRequest || code == mcp::rpc_error::kInvalidParams ||
      code == mcp::rpc_error::kHeaderMismatch ||
      code == mcp::rpc_error::kMissingRequiredClientCapability ||
      code == mcp::rpc_error::kUnsupportedProtocolVersion) {
    return 400;
  }
  return 200;
}

// Sends the messages of one request: JSON when the response comes first, else an SSE stream.
awaitable<void> AnswerRequest(http::ResponseWriter& w, std::shared_ptr<ItemQueue> queue,
                              bool stateless) {
  std::optional<Item> first = co_await queue->Pop();
  if (!first) co_return;  // the server is shutting down
  if (first->final && !first->message.is_null()) {
    const int status = ReplyStatus(first->message, stateless);
    std::string body = mcp::Serialize(first->message);
    co_await w.Send(status, kJson, std::move(body));
    co_return;
  }
  http::Headers headers = SseHeaders();
  if (!co_await w.StartStream(200, "text/event-stream", std::move(headers))) co_return;
  std::optional<Item> item = std::move(first);
  while (item) {
    if (!item->message.is_null()) {
      std::string event = SseEvent(item->message);
      if (!co_await w.Write(event)) co_return;
    }
    if (item->final) break;
    item = co_await queue->Pop();
  }
  co_await w.EndStream();
}

struct Shared {
  mcp::McpServer* server;
  mcp::SessionRegistry* sessions;
  McpHttpOptions options;
};

// Origin and Host (DNS rebinding). Returns the refusal, if any.
std::optional<http::Response> Screen(const Shared& shared, const http::Request& req) {
  std::string why = CheckOrigin(shared.options.origins, Header(req, "Origin"), Header(req, "Host"));
  if (!why.empty()) return RpcError(403, mcp::rpc_error::kInvalidRequest, "Forbidden: " + why);
  return std::nullopt;
}

// The MCP-Protocol-Version header of a request in a session (absent: 2025-03-26).
std::optional<http::Response> CheckSessionVersion(const http::Request& req) {
  std::string version = Header(req, kVersionHeader);
  if (!version.empty() && !mcp::IsSupportedProtocolVersion(version)) {
    return RpcError(400, mcp::rpc_error::kInvalidRequest,
                    "Bad Request: unsupported MCP-Protocol-Version " + version);
  }
  return std::nullopt;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

const Json* Meta(const mcp::Message& message) {
  auto it = message.params.find("_meta");
  return it != message.params.end() && it->is_object() ? &*it : nullptr;
}

// Whether a request without a session speaks the stateless protocol (2026-07-28): it names a
// protocol version in its _meta, or in the header one that is not of the session era.
bool IsStatelessRequest(const http::Request& req, const mcp::Message& message) {
  const Json* meta = Meta(message);
  const std::string version = Header(req, kVersionHeader);
  if (meta != nullptr) return true;
  if (message.method == "initialize") return false;
  return !version.empty() && !mcp::IsSupportedProtocolVersion(version);
}

// The checks of a stateless request before it runs (spec 2026-07-28, in the suite's order).
// Fills the context from _meta; returns the refusal, if any.
std::optional<http::Response> CheckStateless(const http::Request& req, const mcp::Message& message,
                                             mcp::RequestContext& context) {
  const Json id = message.id;
  auto refuse = [&](int status, int code, std::string why, std::optional<Json> data = {}) {
    mcp::RpcError error{code, std::move(why), std::move(data)};
    return http::Response{status, kJson, mcp::Serialize(mcp::ErrorMessage(id, error)), {}};
  };
  const std::string version = Header(req, kVersionHeader);
  if (version.empty()) {
    return refuse(400, mcp::rpc_error::kHeaderMismatch, "the MCP-Protocol-Version header is required");
  }
  const Json* meta = Meta(message);
  const std::string version_key = "io.modelcontextprotocol/protocolVersion";
  const std::string caps_key = "io.modelcontextprotocol/clientCapabilities";
  if (meta == nullptr || !meta->contains(version_key) || !(*meta)[version_key].is_string() ||
      !meta->contains(caps_key) || !(*meta)[caps_key].is_object()) {
    return refuse(400, mcp::rpc_error::kInvalidParams,
                  "params._meta must carry " + version_key + " and " + caps_key);
  }
  const std::string meta_version = (*meta)[version_key].get<std::string>();
  if (meta_version != version) {
    return refuse(400, mcp::rpc_error::kHeaderMismatch,
                  "MCP-Protocol-Version " + version + " differs from _meta's " + meta_version);
  }
  if (version != mcp::kStatelessProtocolVersion) {
    return refuse(400, mcp::rpc_error::kUnsupportedProtocolVersion,
                  "unsupported protocol version " + version,
                  Json{{"requested", version},
                       {"supported", Json::array({mcp::kStatelessProtocolVersion})}});
  }
  const std::string method_header = Trim(Header(req, "Mcp-Method"));
  if (method_header != message.method) {
    return refuse(400, mcp::rpc_error::kHeaderMismatch,
                  "the Mcp-Method header must repeat the method (" + message.method + ")");
  }
  std::string name;
  if (message.method == "tools/call" || message.method == "prompts/get") {
    name = message.params.value("name", "");
  } else if (message.method == "resources/read") {
    name = message.params.value("uri", "");
  }
  if (!name.empty() && Trim(Header(req, "Mcp-Name")) != name) {
    return refuse(400, mcp::rpc_error::kHeaderMismatch,
                  "the Mcp-Name header must repeat the name (" + name + ")");
  }
  context.stateless = true;
  context.client_capabilities = (*meta)[caps_key];
  if (auto level = meta->find("io.modelcontextprotocol/logLevel");
      level != meta->end() && level->is_string()) {
    context.log_level = mcp::ParseLogLevel(level->get<std::string>());
  }
  return std::nullopt;
}

// The session named by the request's header, or the refusal: 400 without the header, 404 for
// an unknown session or one that belongs to another caller.
std::shared_ptr<mcp::Session> FindSession(const Shared& shared, const http::Request& req,
                                          const CallAccess& access, http::Response* refusal) {
  const std::string id = Header(req, kSessionHeader);
  if (id.empty()) {
    *refusal = RpcError(400, mcp::rpc_error::kInvalidRequest,
                        "Bad Request: the Mcp-Session-Id header is required (initialize first)");
    return nullptr;
  }
  auto session = shared.sessions->Find(id);
  if (!session || session->owner() != access.principal().subject) {
    *refusal = RpcError(404, mcp::rpc_error::kInvalidRequest, "Session not found");
    return nullptr;
  }
  return session;
}

// Runs one request and answers it; a client that goes away (for a stateless client, the way
// to cancel) stops the work.
awaitable<void> RunRequest(const Shared& shared, http::ResponseWriter& w,
                           const mcp::Message& message, const mcp::RequestContext& context) {
  auto out = std::make_shared<QueueOutbound>();
  std::shared_ptr<ItemQueue> queue = out->queue();
  std::function<void()> cancel = shared.server->HandleRequest(message, context, out);
  if (cancel) w.OnDisconnect(cancel);
  co_await AnswerRequest(w, queue, context.stateless);
  w.OnDisconnect(nullptr);
}

awaitable<void> HandlePost(const Shared& shared, http::Request& req, http::ResponseWriter& w,
                           CallAccess& access) {
  if (auto refusal = Screen(shared, req)) {
    co_await w.Send(std::move(*refusal));
    co_return;
  }
  const std::string accept = Header(req, "Accept");
  if (!Accepts(accept, "application/json") || !Accepts(accept, "text/event-stream")) {
    http::Response reply = RpcError(406, mcp::rpc_error::kInvalidRequest,
                             "Not Acceptable: Accept must list application/json and "
                             "text/event-stream");
    co_await w.Send(std::move(reply));
    co_return;
  }
  const std::string content_type = Header(req, "Content-Type");
  if (content_type.find("application/json") == std::string::npos) {
    http::Response reply = RpcError(415, mcp::rpc_error::kInvalidRequest,
                             "Unsupported Media Type: the body must be application/json");
    co_await w.Send(std::move(reply));
    co_return;
  }
  if (!JsonNestingWithin(req.body)) {
    http::Response reply = RpcError(400, mcp::rpc_error::kParseError, "Parse error: " + JsonTooDeepMessage());
    co_await w.Send(std::move(reply));
    co_return;
  }
  Json value = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    http::Response reply = RpcError(400, mcp::rpc_error::kParseError, "Parse error: the body is not JSON");
    co_await w.Send(std::move(reply));
    co_return;
  }
  if (value.is_array()) {
    http::Response reply = RpcError(400, mcp::rpc_error::kInvalidRequest,
                             "Invalid Request: batches are not supported since MCP 2025-06-18");
    co_await w.Send(std::move(reply));
    co_return;
  }
  Json id;
  auto parsed = mcp::ParseMessage(value, &id);
  if (!parsed.ok()) {
    http::Response reply = RpcError(400, mcp::rpc_error::kInvalidRequest,
                             "Invalid Request: " + parsed.status().message(), id);
    co_await w.Send(std::move(reply));
    co_return;
  }
  mcp::Message& message = *parsed;
  mcp::RequestContext context;
  context.caller = std::make_shared<AccessCaller>(access);

  if (Header(req, kSessionHeader).empty() && IsStatelessRequest(req, message)) {
    if (auto refusal = CheckStateless(req, message, context)) {
      co_await w.Send(std::move(*refusal));
      co_return;
    }
    if (message.kind != mcp::Message::Kind::kRequest) {
      co_await w.Send(202, kJson, "");  // nothing to do without a session
      co_return;
    }
    co_await RunRequest(shared, w, message, context);
    co_return;
  }
  if (auto refusal = CheckSessionVersion(req)) {
    co_await w.Send(std::move(*refusal));
    co_return;
  }

  if (message.kind == mcp::Message::Kind::kRequest && message.method == "initialize") {
    auto session = shared.sessions->Create(access.principal().subject, access.share());
    if (!session.ok()) {
      http::Response reply = RpcError(503, mcp::rpc_error::kInternalError, session.status().message(), id);
      co_await w.Send(std::move(reply));
      co_return;
    }
    context.session = *session;
    auto out = std::make_shared<QueueOutbound>();
    shared.server->HandleRequest(message, context, out);
    std::optional<Item> reply = out->queue()->TryPop();
    if (!reply || !reply->message.contains("result")) {
      shared.sessions->Remove((*session)->id());
      std::string body = reply ? mcp::Serialize(reply->message) : std::string("{}");
      co_await w.Send(200, kJson, std::move(body));
      co_return;
    }
    http::Headers headers{{kSessionHeader, (*session)->id()}};
    std::string body = mcp::Serialize(reply->message);
    co_await w.Send(200, kJson, std::move(body), std::move(headers));
    co_return;
  }

  http::Response refusal;
  context.session = FindSession(shared, req, access, &refusal);
  if (!context.session) {
    co_await w.Send(std::move(refusal));
    co_return;
  }
  if (message.kind != mcp::Message::Kind::kRequest) {
    shared.server->HandleNotification(message, context);
    co_await w.Send(202, kJson, "");
    co_return;
  }
  co_await RunRequest(shared, w, message, context);
}

awaitable<void> HandleGet(const Shared& shared, http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) {
  if (auto refusal = Screen(shared, req)) {
    co_await w.Send(std::move(*refusal));
    co_return;
  }
  if (auto refusal = CheckSessionVersion(req)) {
    co_await w.Send(std::move(*refusal));
    co_return;
  }
  if (!Accepts(Header(req, "Accept"), "text/event-stream")) {
    http::Response reply = RpcError(406, mcp::rpc_error::kInvalidRequest,
                             "Not Acceptable: the GET stream is text/event-stream");
    co_await w.Send(std::move(reply));
    co_return;
  }
  http::Response refusal;
  auto session = FindSession(shared, req, access, &refusal);
  if (!session) {
    co_await w.Send(std::move(refusal));
    co_return;
  }
  if (shared.sessions->streams_ended()) {
    http::Response reply = RpcError(503, mcp::rpc_error::kInternalError, "the server is shutting down");
    co_await w.Send(std::move(reply));
    co_return;
  }
  auto stream = std::make_shared<QueueOutbound>();
  std::shared_ptr<ItemQueue> queue = stream->queue();
  if (auto previous = session->AttachStream(stream)) previous->Finish(nullptr);
  w.OnDisconnect([queue] { queue->Close(); });
  http::Headers headers = SseHeaders();
  if (co_await w.StartStream(200, "text/event-stream", std::move(headers))) {
    while (std::optional<Item> item = co_await queue->Pop()) {
      if (item->message.is_null()) break;
      std::string event = SseEvent(item->message);
      if (!co_await w.Write(event)) break;
    }
    co_await w.EndStream();
  }
  session->DetachStream(stream.get());
  w.OnDisconnect(nullptr);
}

awaitable<void> HandleDelete(const Shared& shared, http::Request& req, http::ResponseWriter& w,
                             CallAccess& access) {
  if (auto refusal = Screen(shared, req)) {
    co_await w.Send(std::move(*refusal));
    co_return;
  }
  http::Response refusal;
  auto session = FindSession(shared, req, access, &refusal);
  if (!session) {
    co_await w.Send(std::move(refusal));
    co_return;
  }
  shared.sessions->Remove(session->id());
  co_await w.Send(204, kJson, "");
}

}  // namespace

void RegisterMcpRoutes(GuardedRouter& router, mcp::McpServer& server,
                       mcp::SessionRegistry& sessions, McpHttpOptions options) {
  auto shared = std::make_shared<Shared>(Shared{&server, &sessions, std::move(options)});
  // Refusals of the access gate in JSON-RPC's shape; 401 tells the client where to find out
  // how to authenticate (MCP authorization spec, RFC 9728).
  RequestErrorReply refusal = [](const Status& status, const http::Request& req) {
    mcp::RpcError error = mcp::RpcErrorFor(status);
    http::Response reply{HttpStatusFor(status), kJson,
                         mcp::Serialize(mcp::ErrorMessage(nullptr, error)), {}};
    if (reply.status == 401) {
      std::string challenge = "Bearer realm=\"llmux\", resource_metadata=\"";
      challenge += ResourceMetadataUrl(req);
      challenge += "\"";
      reply.headers.Set("WWW-Authenticate", std::move(challenge));
    }
    return reply;
  };
  router.Route(
      "POST", "/mcp",
      [shared](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        co_await HandlePost(*shared, req, w, access);
      },
      refusal);
  router.Route(
      "GET", "/mcp",
      [shared](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        co_await HandleGet(*shared, req, w, access);
      },
      refusal);
  router.Route(
      "DELETE", "/mcp",
      [shared](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        co_await HandleDelete(*shared, req, w, access);
      },
      refusal);

  // RFC 9728 protected resource metadata, at the root and at the path-inserted location.
  auto metadata = [shared](http::Request& req, http::ResponseWriter& w,
                           CallAccess&) -> awaitable<void> {
    Json body{{"resource", BaseUrl(req) + "/mcp"},
              {"authorization_servers", shared->options.authorization_servers},
              {"bearer_methods_supported", {"header"}},
              {"resource_name", "llmux"}};
    std::string text = body.dump();
    co_await w.Send(200, kJson, std::move(text));
  };
  router.Route("GET", "/.well-known/oauth-protected-resource", metadata);
  router.Route("GET", "/.well-known/oauth-protected-resource/mcp", metadata);
}

}  // namespace llmux::gateway
