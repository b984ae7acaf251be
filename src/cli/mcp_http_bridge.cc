#include "cli/mcp_http_bridge.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "mcp/session.h"
#include "net/http/http_client.h"

namespace llmux::cli {

namespace {

using mcp::Json;

Json Error(const Json& id, int code, std::string message, std::optional<Json> data = std::nullopt) {
  return mcp::ErrorMessage(id, mcp::RpcError{code, std::move(message), std::move(data)});
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

// The headers the stateless protocol (2026-07-28) wants repeated from the body: the method,
// the tool, prompt or resource it names, and the protocol version a request carries in its
// _meta (instead of the one initialize negotiated). Servers of the session era ignore them.
void AddStatelessHeaders(const Json& message, http::Headers& headers) {
  const Json method = message.value("method", Json());
  if (!method.is_string()) return;
  headers.Set("Mcp-Method", method.get<std::string>());
  const Json params = message.value("params", Json::object());
  if (!params.is_object()) return;
  const char* name_key = method == "resources/read"                          ? "uri"
                         : method == "tools/call" || method == "prompts/get" ? "name"
                                                                             : nullptr;
  if (name_key != nullptr) {
    const Json name = params.value(name_key, Json());
    if (name.is_string()) headers.Set("Mcp-Name", name.get<std::string>());
  }
  const Json meta = params.value("_meta", Json::object());
  if (meta.is_object()) {
    const Json version = meta.value("io.modelcontextprotocol/protocolVersion", Json());
    if (version.is_string()) headers.Set("MCP-Protocol-Version", version.get<std::string>());
  }
}

// Whether `m` is the response to the request with `id`.
bool IsResponseTo(const Json& m, const Json& id) {
  return m.is_object() && !m.contains("method") && m.contains("id") && m["id"] == id;
}

}  // namespace

std::vector<std::string> SseEventData(std::string_view body) {
  std::vector<std::string> events;
  std::string data;
  bool has_data = false;
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t end = body.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) {  // the end of an event
      if (has_data) events.push_back(std::move(data));
      data.clear();
      has_data = false;
      if (last) break;
      continue;
    }
    if (line.rfind("data:", 0) == 0) {
      std::string_view value = line.substr(5);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (has_data) data += '\n';
      data.append(value);
      has_data = true;
    }
    // id:, event:, retry: and comments (":...") carry nothing the stdio client needs.
    if (last) {
      if (has_data) events.push_back(std::move(data));  // a last event without its blank line
      break;
    }
  }
  return events;
}

struct McpHttpBridge::State {
  State(McpBridgeOptions o, int out_fd) : options(std::move(o)), writer(out_fd) {}

  http::ClientRequest MakeRequest(std::string method, std::chrono::milliseconds timeout) {
    http::ClientRequest r;
    r.method = std::move(method);
    r.url = options.url;
    r.timeout = timeout;
    r.max_response_bytes = options.max_response_bytes;
    r.ca_file = options.ca_file;
    r.headers.Add("Accept", "application/json, text/event-stream");
    if (!options.api_key.empty()) r.headers.Add("Authorization", "Bearer " + options.api_key);
    std::lock_guard lock(mu);
    if (!session_id.empty()) r.headers.Add("Mcp-Session-Id", session_id);
    if (!protocol_version.empty()) r.headers.Add("MCP-Protocol-Version", protocol_version);
    return r;
  }

  Result<http::ClientResponse> Post(const Json& message, std::chrono::milliseconds timeout) {
    http::ClientRequest r = MakeRequest("POST", timeout);
    r.headers.Add("Content-Type", "application/json");
    AddStatelessHeaders(message, r.headers);
    r.body = mcp::EncodeLine(message);
    return http::Fetch(r);
  }

  bool WasCancelled(const Json& id) {
    std::lock_guard lock(mu);
    return cancelled.count(mcp::IdKey(id)) > 0;
  }

  bool closing_now() {
    std::lock_guard lock(mu);
    return closing;
  }

  // Writes the messages of the server's reply to a message with `id` (null for
  // notifications, whose failures can only be logged) and returns them. A failure becomes
  // a JSON-RPC error for `id`.
  std::vector<Json> Deliver(const Json& id, const Result<http::ClientResponse>& reply) {
    std::vector<Json> messages;
    auto fail = [&](int code, std::string message, std::optional<Json> data = std::nullopt) {
      if (!id.is_null()) {
        if (WasCancelled(id)) return;
        writer.Write(Error(id, code, message, std::move(data)));
      } else if (!closing_now()) {
        spdlog::warn("mcp bridge: {}", message);
      }
    };
    if (!reply.ok()) {
      fail(mcp::rpc_error::kInternalError,
           "cannot reach the llmux MCP server at " + options.url + ": " + reply.status().message());
      return messages;
    }
    const http::ClientResponse& r = *reply;
    if (r.status == 202) return messages;
    if (!IsSuccess(r.status)) {
      // The server's own words, when it answered in JSON-RPC's shape.
      std::string detail;
      Json body = Json::parse(r.body, nullptr, false);
      if (body.is_object() && body.contains("error") && body["error"].is_object() &&
          body["error"].value("message", Json()).is_string()) {
        detail = body["error"]["message"].get<std::string>();
      }
      const int code = r.status == 401 || r.status == 403 ? mcp::rpc_error::kUnauthorized
                                                          : mcp::rpc_error::kInternalError;
      std::string message = "the llmux MCP server answered HTTP " + std::to_string(r.status);
      if (!detail.empty()) message += ": " + detail;
      fail(code, std::move(message), Json{{"httpStatus", r.status}});
      return messages;
    }
    const std::string content_type(r.headers.Get("Content-Type").value_or(""));
    if (content_type.rfind("text/event-stream", 0) == 0) {
      for (const std::string& data : SseEventData(r.body)) {
        Json m = Json::parse(data, nullptr, false);
        if (m.is_discarded()) {
          if (!closing_now()) spdlog::warn("mcp bridge: skipped an SSE event that is not JSON");
          continue;
        }
        messages.push_back(std::move(m));
      }
    } else if (!r.body.empty()) {
      Json m = Json::parse(r.body, nullptr, false);
      if (m.is_discarded()) {
        fail(mcp::rpc_error::kInternalError, "the llmux MCP server's reply is not JSON");
        return messages;
      }
      messages.push_back(std::move(m));
    }
    // Nothing for a request the client cancelled: it forgot it already.
    if (!id.is_null() && WasCancelled(id)) return messages;
    for (const Json& m : messages) writer.Write(m);
    return messages;
  }

  const McpBridgeOptions options;
  mcp::LineWriter writer;
  std::mutex mu;
  std::condition_variable idle_cv;
  std::string session_id;           // from initialize's Mcp-Session-Id header
  std::string protocol_version;     // what initialize negotiated
  std::set<std::string> cancelled;  // IdKeys of requests the client cancelled
  int forwarding = 0;               // request threads still running
  bool closing = false;
};

McpHttpBridge::McpHttpBridge(McpBridgeOptions options, int in_fd, int out_fd)
    : reader_(in_fd, options.max_message_bytes),
      state_(std::make_shared<State>(std::move(options), out_fd)) {}

McpHttpBridge::~McpHttpBridge() = default;

Status McpHttpBridge::Run() {
  Status status;
  while (auto line = reader_.Next()) {
    if (!line->ok()) {
      if (line->status().code() == StatusCode::kResourceExhausted) {
        state_->writer.Write(Error(nullptr, mcp::rpc_error::kInvalidRequest,
                                   "Invalid Request: " + line->status().message()));
        continue;
      }
      status = line->status();
      break;
    }
    mcp::DecodedLine decoded = mcp::DecodeLine(**line);
    if (decoded.error_reply) {
      state_->writer.Write(*decoded.error_reply);
      continue;
    }
    const mcp::Message& message = decoded.message;
    if (message.kind != mcp::Message::Kind::kRequest) {
      ForwardOther(message, decoded.value);
    } else if (message.method == "initialize") {
      ForwardInitialize(message, decoded.value);
    } else {
      ForwardRequest(std::move(decoded.message), std::move(decoded.value));
    }
  }
  EndSession();
  return status;
}

// In line, before anything else is read: every later message needs the session it creates.
void McpHttpBridge::ForwardInitialize(const mcp::Message& message, const Json& raw) {
  auto reply = state_->Post(raw, state_->options.control_timeout);
  if (reply.ok() && IsSuccess(reply->status)) {
    if (auto id = reply->headers.Get("Mcp-Session-Id")) {
      std::lock_guard lock(state_->mu);
      state_->session_id = std::string(*id);
      state_->protocol_version.clear();
    }
  }
  for (const Json& m : state_->Deliver(message.id, reply)) {
    if (!IsResponseTo(m, message.id) || !m.contains("result")) continue;
    const Json version = m["result"].value("protocolVersion", Json());
    if (version.is_string()) {
      std::lock_guard lock(state_->mu);
      state_->protocol_version = version.get<std::string>();
    }
  }
}

void McpHttpBridge::ForwardRequest(mcp::Message message, Json raw) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return;
    ++state_->forwarding;
  }
  const Json id = message.id;
  auto forward = [state = state_, id, raw = std::move(raw)] {
    auto reply = state->Post(raw, state->options.request_timeout);
    std::vector<Json> messages = state->Deliver(id, reply);
    bool answered = !reply.ok() || !IsSuccess(reply->status) || reply->status == 202;
    for (const Json& m : messages) answered = answered || IsResponseTo(m, id);
    std::lock_guard lock(state->mu);
    const bool cancelled = state->cancelled.erase(mcp::IdKey(id)) > 0;
    // A stream that ended without the response (the server stopped, say) must not leave
    // the client waiting; a cancelled request gets none, as the spec says.
    if (!answered && !cancelled && !state->closing) {
      state->writer.Write(Error(id, mcp::rpc_error::kInternalError,
                                "the llmux MCP server ended the response without a result"));
    }
    --state->forwarding;
    state->idle_cv.notify_all();
  };
  try {
    std::thread(std::move(forward)).detach();
  } catch (const std::system_error& e) {
    state_->writer.Write(Error(id, mcp::rpc_error::kInternalError,
                               std::string("cannot forward the request: ") + e.what()));
    std::lock_guard lock(state_->mu);
    --state_->forwarding;
  }
}

// Notifications and responses to the server's requests: in line and in order (the server
// answers them at once with 202).
void McpHttpBridge::ForwardOther(const mcp::Message& message, const Json& raw) {
  if (message.kind == mcp::Message::Kind::kNotification &&
      message.method == "notifications/cancelled") {
    auto id = message.params.find("requestId");
    if (id != message.params.end()) {
      std::lock_guard lock(state_->mu);
      state_->cancelled.insert(mcp::IdKey(*id));
    }
  }
  state_->Deliver(nullptr, state_->Post(raw, state_->options.control_timeout));
}

void McpHttpBridge::EndSession() {
  std::string session_id;
  {
    std::lock_guard lock(state_->mu);
    state_->closing = true;
    session_id = state_->session_id;
  }
  state_->writer.Close();  // the client is gone: nothing more goes out
  if (!session_id.empty()) {
    // Ends the session on the server, which cancels its requests and ends their streams.
    auto reply = http::Fetch(state_->MakeRequest("DELETE", state_->options.drain_timeout));
    if (!reply.ok()) {
      spdlog::warn("mcp bridge: ending the session failed: {}", reply.status().message());
    } else if (!IsSuccess(reply->status) && reply->status != 404) {
      spdlog::warn("mcp bridge: ending the session: HTTP {}", reply->status);
    }
  }
  std::unique_lock lock(state_->mu);
  state_->idle_cv.wait_for(lock, state_->options.drain_timeout,
                           [&] { return state_->forwarding == 0; });
  abandoned_ = state_->forwarding;
}

}  // namespace llmux::cli
