#include "gateway/grpc/mcp_grpc_service.h"

#include <grpcpp/server_context.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/json_nesting.h"
#include "gateway/grpc/grpc_access.h"
#include "gateway/grpc/status_mapping.h"
#include "gateway/mcp/access_caller.h"
#include "mcp/mcp_server.h"
#include "mcp/session.h"

namespace llmux::gateway {
namespace {

using mcp::Json;

constexpr const char* kCallMethod = "/llmux.v1.Mcp/Call";
constexpr const char* kSessionMethod = "/llmux.v1.Mcp/Session";
// The caller when there is no access gate (tests of the service alone).
constexpr const char* kAnonymous = "anonymous";

// Compact JSON with invalid UTF-8 replaced (protobuf strings must be UTF-8 anyway).
std::string Text(const Json& message) { return mcp::Serialize(message); }

Json RpcErrorMessage(const Json& id, int code, std::string message,
                     std::optional<Json> data = std::nullopt) {
  return mcp::ErrorMessage(id, mcp::RpcError{code, std::move(message), std::move(data)});
}

// One incoming message, or the JSON-RPC error that answers it.
struct Incoming {
  std::optional<mcp::Message> message;
  Json error;  // set when `message` is not
};

Incoming ParseIncoming(const std::string& text) {
  if (!JsonNestingWithin(text)) {
    return {std::nullopt, RpcErrorMessage(nullptr, mcp::rpc_error::kParseError, "Parse error: " + JsonTooDeepMessage())};
  }
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return {std::nullopt, RpcErrorMessage(nullptr, mcp::rpc_error::kParseError,
                                          "Parse error: the message is not JSON")};
  }
  if (value.is_array()) {
    return {std::nullopt, RpcErrorMessage(nullptr, mcp::rpc_error::kInvalidRequest,
                                          "Invalid Request: batches are not supported since MCP "
                                          "2025-06-18")};
  }
  Json id;
  auto parsed = mcp::ParseMessage(value, &id);
  if (!parsed.ok()) {
    return {std::nullopt, RpcErrorMessage(id, mcp::rpc_error::kInvalidRequest,
                                          "Invalid Request: " + parsed.status().message())};
  }
  return {std::move(parsed).value(), nullptr};
}

// A request from the server to the client (sampling, elicitation, roots): it has an id and a
// method.
bool IsRequest(const Json& message) {
  return message.is_object() && message.contains("method") && message.contains("id");
}

// The MCP caller of an admitted call. It owns the admission: a tool (and the rate-limit slot
// its generation holds) may outlive the gRPC call that started it.
std::shared_ptr<mcp::Caller> CallerOf(std::unique_ptr<CallAccess> access) {
  if (!access) return std::make_shared<mcp::TrustedCaller>(kAnonymous);
  struct Owned {
    explicit Owned(std::unique_ptr<CallAccess> a) : access(std::move(a)), caller(*access) {}
    std::unique_ptr<CallAccess> access;
    AccessCaller caller;
  };
  auto owned = std::make_shared<Owned>(std::move(access));
  return std::shared_ptr<mcp::Caller>(owned, &owned->caller);
}

// A request without a session that names the stateless protocol (2026-07-28) in its _meta:
// fills the context from _meta. Returns the JSON-RPC error when _meta is incomplete or names
// another version.
std::optional<Json> ApplyStatelessMeta(const mcp::Message& message, mcp::RequestContext& context) {
  const std::string version_key = "io.modelcontextprotocol/protocolVersion";
  const std::string caps_key = "io.modelcontextprotocol/clientCapabilities";
  auto meta = message.params.find("_meta");
  if (meta == message.params.end() || !meta->is_object() || !meta->contains(version_key)) {
    return std::nullopt;  // a request of the session era, outside any session
  }
  const Json& version = (*meta)[version_key];
  if (!version.is_string() || !meta->contains(caps_key) || !(*meta)[caps_key].is_object()) {
    return RpcErrorMessage(
        message.id, mcp::rpc_error::kInvalidParams,
        "params._meta must carry " + version_key + " (a string) and " + caps_key + " (an object)");
  }
  if (version.get<std::string>() != mcp::kStatelessProtocolVersion) {
    return RpcErrorMessage(
        message.id, mcp::rpc_error::kUnsupportedProtocolVersion,
        "unsupported protocol version " + version.get<std::string>(),
        Json{{"requested", version}, {"supported", Json::array({mcp::kStatelessProtocolVersion})}});
  }
  context.stateless = true;
  context.client_capabilities = (*meta)[caps_key];
  if (auto level = meta->find("io.modelcontextprotocol/logLevel");
      level != meta->end() && level->is_string()) {
    context.log_level = mcp::ParseLogLevel(level->get<std::string>());
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Call: the reply collects every message of the request; the call ends with its response.

// Shared by the reactor and the request's Outbound, which a tool may hold after the call is
// gone. Invariant: the reactor is alive until Finish was called (gRPC calls OnDone after it),
// and only the one caller that sets finished_ calls Finish.
class CallCore {
 public:
  CallCore(grpc::ServerUnaryReactor* reactor, v1::McpCallResponse* response)
      : reactor_(reactor), response_(response) {}

  void Add(const Json& message) {
    std::lock_guard lock(mu_);
    if (!finished_) response_->add_messages()->set_json(Text(message));
  }

  void SetSessionId(const std::string& id) {
    std::lock_guard lock(mu_);
    if (!finished_) response_->set_session_id(id);
  }

  // Ends the call once: `last` (unless null) is appended and `status` sent, or CANCELLED when
  // the client cancelled meanwhile.
  void End(const Json& last, grpc::Status status) {
    grpc::ServerUnaryReactor* reactor;
    std::function<void()> drop;  // may hold the tool: released outside the lock
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      finished_ = true;
      drop = std::move(cancel_);
      if (cancelled_) {
        status = grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled");
      } else if (status.ok() && !last.is_null()) {
        response_->add_messages()->set_json(Text(last));
      }
      reactor = reactor_;
    }
    reactor->Finish(std::move(status));
  }
  void Fail(grpc::Status status) { End(nullptr, std::move(status)); }

  // How to stop the request if the client goes away; run at once if it already has.
  void SetCancel(std::function<void()> cancel) {
    {
      std::lock_guard lock(mu_);
      if (!cancelled_) {
        if (!finished_) cancel_ = std::move(cancel);
        return;
      }
    }
    cancel();
  }

  void OnCancel() {
    std::function<void()> cancel;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      cancel = std::move(cancel_);
    }
    if (cancel) cancel();  // the tool stops; a cancelled request ends without a response
    Fail(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
  }

 private:
  std::mutex mu_;
  grpc::ServerUnaryReactor* reactor_;
  v1::McpCallResponse* response_;  // gRPC's, valid until OnDone (after Finish)
  bool finished_ = false;
  bool cancelled_ = false;
  std::function<void()> cancel_;
};

class CallReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CallReactor(v1::McpCallResponse* response)
      : core_(std::make_shared<CallCore>(this, response)) {}
  const std::shared_ptr<CallCore>& core() const { return core_; }
  void OnCancel() override { core_->OnCancel(); }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<CallCore> core_;
};

class CallOutbound final : public mcp::Outbound {
 public:
  CallOutbound(std::shared_ptr<CallCore> core, std::shared_ptr<mcp::Session> session)
      : core_(std::move(core)), session_(std::move(session)) {}

  void Send(Json message) override {
    if (IsRequest(message)) {
      // Nobody could answer it: the client sees it only once the call is over.
      if (session_) {
        session_->ResolveClientRequest(
            message["id"], UnimplementedError("a request to the client cannot be answered within "
                                              "one gRPC Call; use the Session stream"));
      }
      return;
    }
    core_->Add(message);
  }
  void Finish(Json response) override { core_->End(response, grpc::Status::OK); }

 private:
  std::shared_ptr<CallCore> core_;
  std::shared_ptr<mcp::Session> session_;
};

// Collects what a synchronous request (initialize) sends.
class CaptureOutbound final : public mcp::Outbound {
 public:
  void Send(Json message) override { sent.push_back(std::move(message)); }
  void Finish(Json response) override { final = std::move(response); }
  std::vector<Json> sent;
  std::optional<Json> final;
};

// ---------------------------------------------------------------------------------------
// Session: one MCP session per bidirectional stream.

class SessionReactor;

// The stream's state, shared by its reactor, the Outbounds of its requests (which tools may
// hold after the stream is gone) and the session's stream for server-initiated messages.
// Writes are queued and written one at a time. Invariant as in ResponseStream: whoever sets
// writing_ or finish_called_ under the lock makes the matching StartWrite/Finish after
// unlocking; gRPC calls OnDone (and the reactor is deleted) only after Finish and with no
// write outstanding.
class StreamCore : public std::enable_shared_from_this<StreamCore> {
 public:
  StreamCore(SessionReactor* reactor, mcp::McpServer& server, mcp::SessionRegistry& sessions,
             AccessGate* gate, std::string bearer, std::string peer)
      : reactor_(reactor),
        server_(server),
        sessions_(sessions),
        gate_(gate),
        bearer_(std::move(bearer)),
        peer_(std::move(peer)) {}

  // The stream is admitted and its session created: messages may flow.
  void Start(std::shared_ptr<mcp::Caller> caller, std::shared_ptr<mcp::Session> session);

  // Reader side (one message at a time, on gRPC's threads).
  void OnMessage(const std::string& text);
  void OnInputClosed();
  bool ended() {
    std::lock_guard lock(mu_);
    return final_status_.has_value() || broken_;
  }

  // Writer side (any thread). Messages after the end are dropped.
  void Write(const Json& message);
  // A message of a request: a request to the client is remembered until the client answers
  // (or can no longer answer).
  void WriteFromRequest(const Json& message);
  // The last word, after every queued message. The first wins.
  void End(grpc::Status status);
  void RequestDone();
  void MarkInitialized() {
    std::lock_guard lock(mu_);
    initialized_ = true;
  }
  // The session's stream for server-initiated messages was ended: by the registry (the session
  // closed) or at server shutdown (the session goes on until its requests finish).
  void OnSessionStreamEnded();

  // Reactor side.
  void OnWriteDone(bool ok);
  void OnCancel();
  void OnDone();

 private:
  void Pump(std::unique_lock<std::mutex>& lock);
  // Closes the session (cancelling what is in flight) and forgets it. Once.
  void EndSession();
  // The request's own admission (rate limits, a credential that is still valid), or the
  // JSON-RPC error refusing it.
  Result<std::shared_ptr<mcp::Caller>> AdmitRequest(const Json& id, Json* refusal);

  std::mutex mu_;
  SessionReactor* reactor_;  // null after OnDone
  std::deque<v1::JsonRpcMessage> queue_;
  v1::JsonRpcMessage current_;  // the message being written; stable while writing_
  bool writing_ = false;
  bool finish_called_ = false;
  bool broken_ = false;  // cancelled, or a write failed: the client is gone
  std::optional<grpc::Status> final_status_;
  int in_flight_ = 0;
  bool input_closed_ = false;
  bool draining_ = false;
  bool initialized_ = false;
  bool session_ended_ = false;
  std::map<std::string, Json> open_client_requests_;  // by IdKey

  // Valid while the server runs: used only from gRPC's callbacks of this stream.
  mcp::McpServer& server_;
  mcp::SessionRegistry& sessions_;
  AccessGate* gate_;
  const std::string bearer_;
  const std::string peer_;
  std::shared_ptr<mcp::Caller> caller_;  // of the stream's admission (notifications)
  std::shared_ptr<mcp::Session> session_;
  std::shared_ptr<mcp::Outbound> session_stream_;
};

class SessionReactor final
    : public grpc::ServerBidiReactor<v1::JsonRpcMessage, v1::JsonRpcMessage> {
 public:
  SessionReactor(mcp::McpServer& server, mcp::SessionRegistry& sessions, AccessGate* gate,
                 std::string bearer, std::string peer)
      : core_(std::make_shared<StreamCore>(this, server, sessions, gate, std::move(bearer),
                                           std::move(peer))) {}

  const std::shared_ptr<StreamCore>& core() const { return core_; }
  void Read() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      core_->OnInputClosed();
      return;
    }
    if (core_->ended()) return;  // nothing more to read for
    core_->OnMessage(in_.json());
    if (!core_->ended()) StartRead(&in_);
  }
  void OnWriteDone(bool ok) override { core_->OnWriteDone(ok); }
  void OnCancel() override { core_->OnCancel(); }
  void OnDone() override {
    core_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<StreamCore> core_;
  v1::JsonRpcMessage in_;
};

// Where one request's messages go: onto the stream, counting the request done at its end.
class RequestOutbound final : public mcp::Outbound {
 public:
  RequestOutbound(std::shared_ptr<StreamCore> core, bool initialize)
      : core_(std::move(core)), initialize_(initialize) {}
  void Send(Json message) override {
    if (!done_.load()) core_->WriteFromRequest(message);
  }
  void Finish(Json response) override {
    if (done_.exchange(true)) return;
    if (initialize_ && response.is_object() && response.contains("result"))
      core_->MarkInitialized();
    if (!response.is_null()) core_->Write(response);
    core_->RequestDone();
  }

 private:
  std::shared_ptr<StreamCore> core_;
  const bool initialize_;
  std::atomic<bool> done_{false};
};

// The session's stream for messages outside any request (list changes, resource updates).
class SessionStreamOutbound final : public mcp::Outbound {
 public:
  explicit SessionStreamOutbound(std::weak_ptr<StreamCore> core) : core_(std::move(core)) {}
  void Send(Json message) override {
    if (auto core = core_.lock()) core->Write(message);
  }
  void Finish(Json) override {
    if (auto core = core_.lock()) core->OnSessionStreamEnded();
  }

 private:
  std::weak_ptr<StreamCore> core_;  // the session must not keep the stream alive
};

void StreamCore::Start(std::shared_ptr<mcp::Caller> caller, std::shared_ptr<mcp::Session> session) {
  caller_ = std::move(caller);
  session_ = std::move(session);
  session_stream_ = std::make_shared<SessionStreamOutbound>(weak_from_this());
  session_->AttachStream(session_stream_);
}

Result<std::shared_ptr<mcp::Caller>> StreamCore::AdmitRequest(const Json& id, Json* refusal) {
  if (gate_ == nullptr) return caller_;
  const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", kSessionMethod);
  AccessDecision decision;
  if (rule == nullptr) {
    decision.status = PermissionDeniedError("no access rule for " + std::string(kSessionMethod));
  } else {
    decision = gate_->Check(*rule, bearer_, peer_);
  }
  if (decision.status.ok() && decision.access->principal().subject != session_->owner()) {
    decision.status = PermissionDeniedError("the credential no longer names the session's owner");
  }
  if (!decision.status.ok()) {
    mcp::RpcError error = mcp::RpcErrorFor(decision.status);
    if (decision.retry_after_s > 0)
      error.data = Json{{"retryAfterSeconds", decision.retry_after_s}};
    *refusal = mcp::ErrorMessage(id, error);
    return decision.status;
  }
  return CallerOf(std::move(decision.access));
}

void StreamCore::OnMessage(const std::string& text) {
  session_->Touch();  // an open stream is not an idle session
  Incoming incoming = ParseIncoming(text);
  if (!incoming.message) {
    Write(incoming.error);
    return;
  }
  const mcp::Message& message = *incoming.message;
  if (message.kind != mcp::Message::Kind::kRequest) {
    if (message.kind == mcp::Message::Kind::kResponse) {
      std::lock_guard lock(mu_);
      open_client_requests_.erase(mcp::IdKey(message.id));
    }
    server_.HandleNotification(message, mcp::RequestContext{caller_, session_});
    return;
  }

  const bool initialize = message.method == "initialize";
  std::optional<Json> refusal;
  {
    std::lock_guard lock(mu_);
    if (draining_) {
      refusal = RpcErrorMessage(message.id, mcp::rpc_error::kInternalError,
                                "the server is shutting down");
    } else if (!initialized_ && !initialize && message.method != "ping") {
      refusal = RpcErrorMessage(message.id, mcp::rpc_error::kInvalidRequest,
                                "Invalid Request: the session is not initialized (send "
                                "initialize first)");
    } else if (initialized_ && initialize) {
      refusal = RpcErrorMessage(message.id, mcp::rpc_error::kInvalidRequest,
                                "Invalid Request: the session is already initialized");
    }
  }
  if (refusal) {
    Write(*refusal);
    return;
  }
  Json admission_refusal;
  auto caller = AdmitRequest(message.id, &admission_refusal);
  if (!caller.ok()) {
    Write(admission_refusal);
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  auto out = std::make_shared<RequestOutbound>(shared_from_this(), initialize);
  // tools/call registers with the session: notifications/cancelled and the end of the
  // session cancel it, so the returned cancel callback is not needed here.
  server_.HandleRequest(message, mcp::RequestContext{*caller, session_}, std::move(out));
}

void StreamCore::OnInputClosed() {
  std::map<std::string, Json> unanswerable;
  bool end;
  {
    std::lock_guard lock(mu_);
    input_closed_ = true;
    unanswerable.swap(open_client_requests_);
    end = in_flight_ == 0;
  }
  for (const auto& [key, id] : unanswerable) {
    session_->ResolveClientRequest(
        id, UnavailableError("the client closed its side of the stream and cannot answer"));
  }
  if (end) End(grpc::Status::OK);
}

void StreamCore::Write(const Json& message) {
  v1::JsonRpcMessage out;
  out.set_json(Text(message));
  std::unique_lock lock(mu_);
  if (final_status_ || broken_) return;
  queue_.push_back(std::move(out));
  Pump(lock);
}

void StreamCore::WriteFromRequest(const Json& message) {
  if (IsRequest(message)) {
    bool answerable;
    {
      std::lock_guard lock(mu_);
      answerable = !input_closed_ && !final_status_ && !broken_;
      if (answerable) open_client_requests_.emplace(mcp::IdKey(message["id"]), message["id"]);
    }
    if (!answerable) {
      session_->ResolveClientRequest(
          message["id"], UnavailableError("the client closed its side of the stream and cannot "
                                          "answer"));
      return;
    }
  }
  Write(message);
}

void StreamCore::End(grpc::Status status) {
  std::unique_lock lock(mu_);
  if (!final_status_) final_status_ = std::move(status);
  Pump(lock);
}

void StreamCore::RequestDone() {
  bool end;
  {
    std::lock_guard lock(mu_);
    --in_flight_;
    end = (input_closed_ || draining_) && in_flight_ == 0;
  }
  if (end) End(grpc::Status::OK);
}

void StreamCore::OnSessionStreamEnded() {
  if (session_->closed()) {
    // Closed by the registry (idle too long): its requests are already cancelled.
    End(grpc::Status(grpc::StatusCode::ABORTED, "the MCP session ended"));
    return;
  }
  bool end;
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    end = in_flight_ == 0;
  }
  if (end) End(grpc::Status::OK);
}

void StreamCore::OnWriteDone(bool ok) {
  {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;
      queue_.clear();
    }
    Pump(lock);
  }
  if (!ok) EndSession();
}

void StreamCore::OnCancel() {
  {
    std::unique_lock lock(mu_);
    broken_ = true;
    queue_.clear();
    Pump(lock);
  }
  EndSession();  // stops every generation the session started
}

void StreamCore::OnDone() {
  {
    std::lock_guard lock(mu_);
    reactor_ = nullptr;
  }
  EndSession();
}

void StreamCore::EndSession() {
  {
    std::lock_guard lock(mu_);
    if (session_ended_ || !session_) return;
    session_ended_ = true;
  }
  session_->DetachStream(session_stream_.get());
  sessions_.Remove(session_->id());
  session_->Close();  // in case the registry had already let it go
}

void StreamCore::Pump(std::unique_lock<std::mutex>& lock) {
  if (writing_ || finish_called_ || reactor_ == nullptr) return;
  SessionReactor* reactor = reactor_;
  if (broken_) {
    finish_called_ = true;
    lock.unlock();
    reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
  } else if (!queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    reactor->StartWrite(&current_);
  } else if (final_status_) {
    finish_called_ = true;
    grpc::Status status = *final_status_;
    lock.unlock();
    reactor->Finish(std::move(status));
  }
}

}  // namespace

grpc::ServerUnaryReactor* McpGrpcService::Call(grpc::CallbackServerContext* context,
                                               const v1::McpCallRequest* request,
                                               v1::McpCallResponse* response) {
  auto* reactor = new CallReactor(response);
  std::shared_ptr<CallCore> core = reactor->core();
  auto access = AdmitGrpcCall(gate_, context, kCallMethod);
  if (!access.ok()) {
    core->Fail(ToGrpcStatus(access.status()));
    return reactor;
  }
  mcp::RequestContext mcp_context;
  mcp_context.caller = CallerOf(std::move(access).value());
  const std::string& session_id = request->session_id();
  if (!session_id.empty()) {
    // Another caller's session does not exist for this one.
    mcp_context.session = sessions_.Find(session_id);
    if (!mcp_context.session || mcp_context.session->owner() != mcp_context.caller->subject()) {
      core->Fail(grpc::Status(grpc::StatusCode::NOT_FOUND, "no MCP session " + session_id));
      return reactor;
    }
    core->SetSessionId(session_id);
  }
  if (request->end_session()) {
    if (session_id.empty() || !request->message().json().empty()) {
      core->Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "end_session needs a session_id and no message"));
      return reactor;
    }
    sessions_.Remove(session_id);
    core->End(nullptr, grpc::Status::OK);
    return reactor;
  }

  Incoming incoming = ParseIncoming(request->message().json());
  if (!incoming.message) {
    core->End(incoming.error, grpc::Status::OK);
    return reactor;
  }
  const mcp::Message& message = *incoming.message;
  if (message.kind != mcp::Message::Kind::kRequest) {
    server_.HandleNotification(message, mcp_context);
    core->End(nullptr, grpc::Status::OK);
    return reactor;
  }

  if (message.method == "initialize") {
    if (!session_id.empty()) {
      core->Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "initialize opens a new session: send it without session_id"));
      return reactor;
    }
    auto session = sessions_.Create(mcp_context.caller->subject(), mcp_context.caller->share());
    if (!session.ok()) {
      core->Fail(ToGrpcStatus(session.status()));
      return reactor;
    }
    mcp_context.session = *session;
    auto capture = std::make_shared<CaptureOutbound>();
    server_.HandleRequest(message, mcp_context, capture);
    for (const Json& m : capture->sent) core->Add(m);
    if (!capture->final || !capture->final->is_object() || !capture->final->contains("result")) {
      sessions_.Remove((*session)->id());  // a failed initialize leaves no session behind
      core->End(capture->final.value_or(Json(nullptr)), grpc::Status::OK);
      return reactor;
    }
    core->SetSessionId((*session)->id());
    core->End(*capture->final, grpc::Status::OK);
    return reactor;
  }

  if (!mcp_context.session) {
    if (std::optional<Json> error = ApplyStatelessMeta(message, mcp_context)) {
      core->End(*error, grpc::Status::OK);
      return reactor;
    }
  }
  auto out = std::make_shared<CallOutbound>(core, mcp_context.session);
  std::function<void()> cancel = server_.HandleRequest(message, mcp_context, std::move(out));
  if (cancel) core->SetCancel(std::move(cancel));
  return reactor;
}

grpc::ServerBidiReactor<v1::JsonRpcMessage, v1::JsonRpcMessage>* McpGrpcService::Session(
    grpc::CallbackServerContext* context) {
  std::string bearer;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    bearer = std::string(BearerToken(std::string_view(it->second.data(), it->second.size())));
  }
  auto* reactor = new SessionReactor(server_, sessions_, gate_, bearer, context->peer());
  const std::shared_ptr<StreamCore>& core = reactor->core();
  auto access = AdmitGrpcCall(gate_, context, kSessionMethod);
  if (!access.ok()) {
    core->End(ToGrpcStatus(access.status()));
    return reactor;
  }
  // The stream holds no concurrency slot of its own: each request on it is admitted (and
  // holds one) while it runs. Opening it counts as one request.
  if (*access) (*access)->Charge(0);
  std::shared_ptr<mcp::Caller> caller = CallerOf(std::move(access).value());
  auto session = sessions_.Create(caller->subject(), caller->share());
  if (!session.ok()) {
    core->End(ToGrpcStatus(session.status()));
    return reactor;
  }
  core->Start(std::move(caller), std::move(session).value());
  reactor->Read();
  return reactor;
}

}  // namespace llmux::gateway
