#include "mcp/tool_call.h"

#include "mcp/mcp_server.h"
#include "mcp/request_state.h"

namespace llmux::mcp {

ToolCall::ToolCall(const Json& params, const RequestContext& context,
                   std::optional<Json> progress_token, std::shared_ptr<Outbound> out,
                   Json request_id)
    : arguments_(params.value("arguments", Json::object())),
      input_responses_(params.value("inputResponses", Json())),
      request_state_(params.contains("requestState") && params["requestState"].is_string()
                         ? params["requestState"].get<std::string>()
                         : std::string()),
      caller_(context.caller),
      session_(context.session),
      stateless_(context.stateless),
      client_capabilities_(context.client_capabilities),
      log_level_(context.log_level),
      progress_token_(std::move(progress_token)),
      out_(std::move(out)),
      request_id_(std::move(request_id)) {}

bool ToolCall::ClientSupports(std::string_view capability) const {
  if (session_) return session_->ClientSupports(capability);
  return client_capabilities_.is_object() && client_capabilities_.contains(capability);
}

void ToolCall::Progress(double progress, std::optional<double> total, std::string message) {
  if (!progress_token_ || done()) return;
  Json params{{"progressToken", *progress_token_}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  out_->Send(NotificationMessage("notifications/progress", std::move(params)));
}

void ToolCall::Log(LogLevel level, Json data, std::string logger) {
  if (done()) return;
  if (session_) {
    if (level < session_->log_level()) return;
  } else if (!log_level_ || level < *log_level_) {
    return;
  }
  Json params{{"level", LogLevelName(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  out_->Send(NotificationMessage("notifications/message", std::move(params)));
}

void ToolCall::Request(std::string method, Json params, Session::ReplyCallback on_reply) {
  if (!session_) {
    on_reply(UnimplementedError("requests to the client need a session"));
    return;
  }
  Json id = session_->BeginClientRequest(std::move(on_reply));
  out_->Send(RequestMessage(id, method, std::move(params)));
}

bool ToolCall::MarkDone() {
  bool expected = false;
  if (!done_.compare_exchange_strong(expected, true)) return false;
  // Nothing to cancel any more; drop the callback (it often holds the engine request, which
  // holds the sink, which holds this call).
  std::lock_guard lock(cancel_mu_);
  on_cancel_ = nullptr;
  return true;
}

void ToolCall::Finish(Json result) {
  if (!MarkDone()) return;
  if (session_) session_->UnregisterInFlight(request_id_);
  out_->Finish(ResultMessage(request_id_, std::move(result)));
}

void ToolCall::InputRequired(Json input_requests, std::string state) {
  Json result{{"resultType", "input_required"}, {"inputRequests", std::move(input_requests)}};
  if (!state.empty()) result["requestState"] = SignRequestState(state);
  Finish(std::move(result));
}

void ToolCall::FinishWithError(const std::string& message) {
  Finish(Json{{"content", Json::array({TextContent(message)})}, {"isError", true}});
}

void ToolCall::Fail(const RpcError& error) {
  if (!MarkDone()) return;
  if (session_) session_->UnregisterInFlight(request_id_);
  out_->Finish(ErrorMessage(request_id_, error));
}

void ToolCall::OnCancel(std::function<void()> callback) {
  bool run_now = false;
  {
    std::lock_guard lock(cancel_mu_);
    if (done_.load() && !cancelled_.load()) return;
    if (cancelled_.load()) {
      run_now = true;
    } else {
      on_cancel_ = callback;
    }
  }
  if (run_now && callback) callback();
}

void ToolCall::Cancel() {
  std::function<void()> callback;
  {
    std::lock_guard lock(cancel_mu_);
    if (cancelled_.exchange(true)) return;
    callback = std::move(on_cancel_);
  }
  // A cancelled request gets no response (spec: cancellation); the stream just ends.
  if (MarkDone()) {
    if (session_) session_->UnregisterInFlight(request_id_);
    out_->Finish(nullptr);
  }
  if (callback) callback();
}

Json TextContent(std::string text) { return Json{{"type", "text"}, {"text", std::move(text)}}; }

}  // namespace llmux::mcp
