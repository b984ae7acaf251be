#include "mcp/stdio_transport.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace llmux::mcp {

struct StdioTransport::State {
  // One request whose response is not out yet.
  struct InFlightRequest {
    bool finished = false;          // its response went out, or it was cancelled
    bool cancel_requested = false;  // the client cancelled it, or the input ended
    std::function<void()> cancel;   // what HandleRequest returned, once it returned
  };

  explicit State(int out_fd) : writer(out_fd) {}

  // The request is over: forget it (and its cancel callable, which holds the tool call, which
  // holds the outbound, which holds the entry).
  void Forget(const std::string& key, const std::shared_ptr<InFlightRequest>& entry) {
    std::function<void()> cancel;
    std::lock_guard lock(mu);
    entry->finished = true;
    cancel = std::move(entry->cancel);
    auto it = in_flight.find(key);
    if (it != in_flight.end() && it->second == entry) in_flight.erase(it);
  }

  LineWriter writer;
  std::mutex mu;
  std::condition_variable idle_cv;
  std::map<std::string, std::shared_ptr<InFlightRequest>> in_flight;  // by IdKey
  int handlers_running = 0;  // threads inside McpServer::HandleRequest
  bool closing = false;
};

namespace {

// Messages of one request: notifications as they come, then the response; a cancelled
// request ends without one.
template <typename SharedState>
class RequestOutbound : public Outbound {
 public:
  // A cancellable request (tools/call) sends nothing once its cancellation was asked for,
  // even when it ended before the cancellation reached it (spec: no response to a cancelled
  // request).
  using Entry = typename SharedState::InFlightRequest;

  RequestOutbound(std::shared_ptr<SharedState> state, std::string key, std::shared_ptr<Entry> entry,
                  bool cancellable)
      : state_(std::move(state)),
        key_(std::move(key)),
        entry_(std::move(entry)),
        cancellable_(cancellable) {}

  void Send(Json message) override {
    if (!finished_.load() && !Silenced()) state_->writer.Write(message);
  }
  void Finish(Json response) override {
    if (finished_.exchange(true)) return;
    const bool silenced = Silenced();
    // Forgotten first: a client may reuse the id as soon as it reads the response.
    state_->Forget(key_, entry_);
    if (!response.is_null() && !silenced) state_->writer.Write(response);
  }

 private:
  bool Silenced() {
    if (!cancellable_) return false;
    std::lock_guard lock(state_->mu);
    return entry_->cancel_requested;
  }

  std::shared_ptr<SharedState> state_;
  std::string key_;
  std::shared_ptr<Entry> entry_;
  const bool cancellable_;
  std::atomic<bool> finished_{false};
};

// Messages not tied to a request (list changes, resource updates): straight to the output.
template <typename SharedState>
class StreamOutbound : public Outbound {
 public:
  explicit StreamOutbound(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}
  void Send(Json message) override { state_->writer.Write(message); }
  void Finish(Json) override {}  // the session ended; the output is closed with the transport

 private:
  std::shared_ptr<SharedState> state_;
};

Json Error(const Json& id, int code, std::string message) {
  return ErrorMessage(id, RpcError{code, std::move(message), std::nullopt});
}

}  // namespace

Result<std::unique_ptr<StdioTransport>> StdioTransport::Create(McpServer& server,
                                                               std::shared_ptr<Caller> caller,
                                                               int in_fd, int out_fd,
                                                               StdioTransportOptions options) {
  std::shared_ptr<Session> session;
  if (options.sessions != nullptr) {
    LLMUX_ASSIGN_OR_RETURN(session, options.sessions->Create(caller->subject()));
  } else {
    session = std::make_shared<Session>("stdio", caller->subject());
  }
  return std::unique_ptr<StdioTransport>(new StdioTransport(
      server, std::move(caller), in_fd, out_fd, std::move(options), std::move(session)));
}

StdioTransport::StdioTransport(McpServer& server, std::shared_ptr<Caller> caller, int in_fd,
                               int out_fd, StdioTransportOptions options)
    : StdioTransport(
          server, caller, in_fd, out_fd,
          [&] {
            options.sessions = nullptr;
            return std::move(options);
          }(),
          std::make_shared<Session>("stdio", caller->subject())) {}

StdioTransport::StdioTransport(McpServer& server, std::shared_ptr<Caller> caller, int in_fd,
                               int out_fd, StdioTransportOptions options,
                               std::shared_ptr<Session> session)
    : server_(server),
      caller_(std::move(caller)),
      options_(std::move(options)),
      reader_(in_fd, options_.max_message_bytes),
      state_(std::make_shared<State>(out_fd)),
      session_(std::move(session)) {
  session_->AttachStream(std::make_shared<StreamOutbound<State>>(state_));
}

StdioTransport::~StdioTransport() { Shutdown(); }

Status StdioTransport::Run() {
  Status status;
  while (auto line = reader_.Next()) {
    if (!line->ok()) {
      if (line->status().code() == StatusCode::kResourceExhausted) {
        state_->writer.Write(Error(nullptr, rpc_error::kInvalidRequest,
                                   "Invalid Request: " + line->status().message()));
        continue;
      }
      status = line->status();
      break;
    }
    session_->Touch();  // a registry expires idle sessions
    DecodedLine decoded = DecodeLine(**line);
    if (decoded.error_reply) {
      spdlog::debug("mcp stdio: refused a line: {}", (*decoded.error_reply)["error"].dump());
      state_->writer.Write(*decoded.error_reply);
      continue;
    }
    if (decoded.message.kind == Message::Kind::kRequest) {
      Dispatch(std::move(decoded.message));
    } else {
      HandleNotification(decoded.message);
    }
  }
  Shutdown();
  return status;
}

void StdioTransport::Dispatch(Message request) {
  const std::string key = IdKey(request.id);
  const Json id = request.id;
  auto entry = std::make_shared<State::InFlightRequest>();
  bool duplicate = false;
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return;
    duplicate = !state_->in_flight.emplace(key, entry).second;
    if (!duplicate) ++state_->handlers_running;
  }
  if (duplicate) {
    state_->writer.Write(
        Error(id, rpc_error::kInvalidRequest, "a request with this id is already in flight"));
    return;
  }
  auto out =
      std::make_shared<RequestOutbound<State>>(state_, key, entry, request.method == "tools/call");
  RequestContext context;
  context.caller = caller_;
  context.session = session_;
  // The handler thread holds only shared state, and `server_` until it counts itself out;
  // Shutdown waits for that.
  auto handle = [server = &server_, state = state_, request = std::move(request), context, out,
                 entry]() {
    std::function<void()> cancel;
    try {
      cancel = server->HandleRequest(request, context, out);
    } catch (const std::exception& e) {
      out->Finish(Error(request.id, rpc_error::kInternalError, e.what()));
    }
    bool cancel_now = false;
    if (cancel) {
      std::lock_guard lock(state->mu);
      if (entry->cancel_requested) {
        cancel_now = !entry->finished;
      } else if (!entry->finished) {
        entry->cancel = cancel;
      }
    }
    if (cancel_now) cancel();
    std::lock_guard lock(state->mu);
    --state->handlers_running;
    state->idle_cv.notify_all();
  };
  try {
    std::thread(std::move(handle)).detach();
  } catch (const std::system_error& e) {  // no thread to be had: answer instead of hanging
    out->Finish(
        Error(id, rpc_error::kInternalError, std::string("cannot start a handler: ") + e.what()));
    std::lock_guard lock(state_->mu);
    --state_->handlers_running;
  }
}

void StdioTransport::HandleNotification(const Message& message) {
  if (message.kind == Message::Kind::kNotification && message.method == "notifications/cancelled") {
    // Also a request whose handler has not returned yet (its cancel callable is not known):
    // it is cancelled as soon as it returns.
    auto id = message.params.find("requestId");
    std::function<void()> cancel;
    if (id != message.params.end()) {
      std::lock_guard lock(state_->mu);
      auto it = state_->in_flight.find(IdKey(*id));
      if (it != state_->in_flight.end() && !it->second->finished) {
        it->second->cancel_requested = true;
        cancel = std::move(it->second->cancel);  // empty while its handler runs
      }
    }
    if (cancel) cancel();
  }
  RequestContext context;
  context.caller = caller_;
  context.session = session_;
  server_.HandleNotification(message, context);
}

void StdioTransport::Shutdown() {
  std::vector<std::function<void()>> cancels;
  {
    std::lock_guard lock(state_->mu);
    if (state_->closing) return;
    state_->closing = true;
    for (auto& [key, entry] : state_->in_flight) {
      entry->cancel_requested = true;
      if (entry->cancel) cancels.push_back(std::move(entry->cancel));
    }
  }
  // Cancels the tool calls and fails requests awaiting the client.
  if (options_.sessions != nullptr) {
    options_.sessions->Remove(session_->id());  // (closes it)
  } else {
    session_->Close();
  }
  for (auto& cancel : cancels) cancel();
  {
    // Handlers still running answer what needs no tool (initialize, ping, lists) before the
    // output closes; their tool calls were cancelled above and answer nothing.
    std::unique_lock lock(state_->mu);
    state_->idle_cv.wait(lock, [&] { return state_->handlers_running == 0; });
  }
  state_->writer.Close();  // the client is gone: nothing more goes out
}

}  // namespace llmux::mcp
