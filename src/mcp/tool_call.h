// One running tools/call, as its tool sees it: the arguments, who called, and how to talk
// back while it runs (progress, log messages, requests to the client such as sampling) and
// how to end (a CallToolResult, or a protocol error). Finish/Fail may be called from any
// thread, exactly once; later calls do nothing. A cancelled call (notifications/cancelled,
// the client went away, the session ended) runs the OnCancel callback; its reply is dropped.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mcp/caller.h"
#include "mcp/json_rpc.h"
#include "mcp/outbound.h"
#include "mcp/session.h"

namespace llmux::mcp {

struct RequestContext;

class ToolCall {
 public:
  ToolCall(const Json& params, const RequestContext& context, std::optional<Json> progress_token,
           std::shared_ptr<Outbound> out, Json request_id);

  const Json& arguments() const { return arguments_; }
  // Multi-round-trip results (2026-07-28): the client's answers to an earlier input_required
  // result (null when none were sent) and the requestState it echoes (empty when none).
  const Json& input_responses() const { return input_responses_; }
  const std::string& request_state() const { return request_state_; }
  Caller& caller() { return *caller_; }
  std::shared_ptr<Caller> shared_caller() const { return caller_; }
  // Null in stateless requests (spec 2026-07-28) and when the transport has no session.
  Session* session() const { return session_.get(); }

  // Whether the client declared `capability` ("sampling", "elicitation", "roots"): in
  // initialize for a session, in the request's _meta for a stateless request.
  bool ClientSupports(std::string_view capability) const;
  bool stateless() const { return stateless_; }

  bool wants_progress() const { return progress_token_.has_value(); }
  // notifications/progress, when the caller sent a progressToken (else nothing is sent).
  void Progress(double progress, std::optional<double> total, std::string message = "");
  // notifications/message at `level`, when the session's level (or the stateless request's
  // logLevel) lets it through.
  void Log(LogLevel level, Json data, std::string logger = "llmux");
  // A request to the client over this call's stream (sampling/createMessage,
  // elicitation/create, roots/list); `on_reply` gets its result or error. Fails at once when
  // there is no session to route the reply through (stateless requests never have one).
  void Request(std::string method, Json params, Session::ReplyCallback on_reply);

  // The CallToolResult ({content, structuredContent?, isError?}).
  void Finish(Json result);
  // An input_required result: the client answers `input_requests` (a map of key to
  // {method, params}) and calls again; `state` (signed here) comes back with the answers.
  void InputRequired(Json input_requests, std::string state = "");
  // A tool result with isError: true and `message` as its text.
  void FinishWithError(const std::string& message);
  // A JSON-RPC error instead of a result.
  void Fail(const RpcError& error);

  void OnCancel(std::function<void()> callback);
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  bool done() const { return done_.load(); }

 private:
  bool MarkDone();

  Json arguments_;
  Json input_responses_;
  std::string request_state_;
  std::shared_ptr<Caller> caller_;
  std::shared_ptr<Session> session_;
  bool stateless_ = false;
  Json client_capabilities_;
  std::optional<LogLevel> log_level_;  // stateless requests
  std::optional<Json> progress_token_;
  std::shared_ptr<Outbound> out_;
  Json request_id_;
  std::atomic<bool> done_{false};
  std::atomic<bool> cancelled_{false};
  std::mutex cancel_mu_;
  std::function<void()> on_cancel_;
};

// Content blocks of tool results and prompt messages.
Json TextContent(std::string text);

}  // namespace llmux::mcp
