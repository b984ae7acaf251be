// libFuzzer target: MCP JSON-RPC messages through the whole McpServer path, as the stdio
// transport hands them over: each line of the input is decoded (DecodeLine: JSON, nesting
// limit, JSON-RPC validation), then handled by McpServer on one session, with llmux's own tools,
// resources and prompts and the conformance fixtures (mcp_fuzz_catalog.h). A line starting with
// '~' is a stateless request (spec 2026-07-28: no session, capabilities from its _meta).
//
// What must hold: decoding and handling never throw (McpServer answers a handler that threw
// with kHandlerDefect, which counts as a failure here); a refused line gets a JSON-RPC error; a
// valid message reads back the same after EncodeLine; every request is answered exactly once
// (by the end of the session at the latest) with a response naming its id, and every message
// sent on the way is a valid JSON-RPC message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "json_mutator.h"
#include "mcp/mcp_server.h"
#include "mcp/stdio_lines.h"
#include "mcp_fuzz_catalog.h"

namespace {

using llmux::mcp::Json;
using llmux::mcp::Message;
namespace mcp = llmux::mcp;

constexpr size_t kMaxLines = 64;

void CheckValidMessage(const Json& message, const char* what) {
  Json id;
  auto parsed = mcp::ParseMessage(message, &id);
  FUZZ_CHECK(parsed.ok(), what);
  // What the transports write must read back as the same document.
  const std::string line = mcp::EncodeLine(message);
  FUZZ_CHECK(line.find('\n') == std::string::npos, "a message is one line");
  FUZZ_CHECK(Json::parse(line) == message, "a message survives EncodeLine");
}

// Records what the server sends for one request.
class RecordingOutbound : public mcp::Outbound {
 public:
  explicit RecordingOutbound(Json id) : id_(std::move(id)) {}

  void Send(Json message) override {
    CheckValidMessage(message, "a message sent before the response is valid JSON-RPC");
    std::lock_guard lock(mu_);
    FUZZ_CHECK(finishes_ == 0, "nothing is sent after the response");
  }

  void Finish(Json response) override {
    if (!response.is_null()) {
      CheckValidMessage(response, "a response is valid JSON-RPC");
      FUZZ_CHECK(response.contains("result") != response.contains("error"),
                 "a response carries a result or an error");
      FUZZ_CHECK(response.value("id", Json()) == id_, "a response names its request's id");
      // McpServer answers a handler that threw with kHandlerDefect instead of passing it on.
      if (auto error = response.find("error"); error != response.end() && error->is_object()) {
        const std::string message = error->value("message", "");
        if (message.rfind(mcp::kHandlerDefect, 0) == 0) {
          std::fprintf(stderr, "%s\n", message.c_str());
          std::abort();
        }
      }
    }
    std::lock_guard lock(mu_);
    ++finishes_;
  }

  int finishes() const {
    std::lock_guard lock(mu_);
    return finishes_;
  }

 private:
  const Json id_;
  mutable std::mutex mu_;
  int finishes_ = 0;
};

void CheckErrorReply(const Json& reply) {
  FUZZ_CHECK(reply.is_object() && reply.value("jsonrpc", "") == "2.0",
             "an error reply is JSON-RPC");
  const Json& error = reply.at("error");
  FUZZ_CHECK(error.at("code").is_number_integer() && error.at("message").is_string(),
             "an error reply has a code and a message");
  FUZZ_CHECK(Json::parse(mcp::EncodeLine(reply)) == reply, "an error reply survives EncodeLine");
}

// A decoded message reads back the same after the transports' encoding.
void CheckRoundTrip(const mcp::DecodedLine& decoded) {
  const mcp::DecodedLine again = mcp::DecodeLine(mcp::EncodeLine(decoded.value));
  FUZZ_CHECK(!again.error_reply, "an encoded valid message decodes");
  FUZZ_CHECK(again.value == decoded.value, "a message survives EncodeLine");
  FUZZ_CHECK(again.message.kind == decoded.message.kind && again.message.id == decoded.message.id &&
                 again.message.method == decoded.message.method,
             "a message reads back as the same message");
}

// A stateless request takes the client's capabilities and log level from its _meta, as the
// HTTP and gRPC transports read them.
mcp::RequestContext StatelessContext(const Message& message, std::shared_ptr<mcp::Caller> caller) {
  mcp::RequestContext context;
  context.caller = std::move(caller);
  context.stateless = true;
  auto meta = message.params.find("_meta");
  if (meta == message.params.end() || !meta->is_object()) return context;
  auto caps = meta->find("io.modelcontextprotocol/clientCapabilities");
  if (caps != meta->end() && caps->is_object()) context.client_capabilities = *caps;
  auto level = meta->find("io.modelcontextprotocol/logLevel");
  if (level != meta->end() && level->is_string()) {
    context.log_level = mcp::ParseLogLevel(level->get<std::string>());
  }
  return context;
}

[[noreturn]] void Threw(const char* where, const std::exception& e) {
  std::fprintf(stderr, "%s threw: %s\n", where, e.what());
  std::abort();
}

mcp::McpServer& Server() {
  static mcp::McpServer* server = [] {
    mcp::McpServerOptions options;
    options.page_size = 4;  // small pages, so that cursors are used
    return new mcp::McpServer(options, llmux::fuzz::McpFuzzCatalog());
  }();
  return *server;
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mcp::McpServer& server = Server();
  const std::shared_ptr<mcp::Caller> caller = llmux::fuzz::McpFuzzCaller();
  auto session = std::make_shared<mcp::Session>("fuzz", caller->subject());
  std::vector<std::shared_ptr<RecordingOutbound>> requests;

  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t n = 0; n < kMaxLines && !input.empty(); ++n) {
    const size_t end = std::min(input.find('\n'), input.size());
    std::string_view line = input.substr(0, end);
    input.remove_prefix(std::min(end + 1, input.size()));
    const bool stateless = !line.empty() && line[0] == '~';
    if (stateless) line.remove_prefix(1);

    const mcp::DecodedLine decoded = mcp::DecodeLine(line);
    if (decoded.error_reply) {
      CheckErrorReply(*decoded.error_reply);
      continue;
    }
    CheckRoundTrip(decoded);
    const Message& message = decoded.message;
    mcp::RequestContext context;
    if (stateless) {
      context = StatelessContext(message, caller);
    } else {
      context.caller = caller;
      context.session = session;
    }
    if (message.kind != Message::Kind::kRequest) {
      try {
        server.HandleNotification(message, context);
      } catch (const std::exception& e) {
        Threw("McpServer::HandleNotification", e);
      }
      continue;
    }
    auto out = std::make_shared<RecordingOutbound>(message.id);
    try {
      server.HandleRequest(message, context, out);
    } catch (const std::exception& e) {
      Threw("McpServer::HandleRequest", e);
    }
    // Only tools may answer later; everything else answers before HandleRequest returns.
    if (message.method != "tools/call") {
      FUZZ_CHECK(out->finishes() == 1, "a request other than tools/call is answered at once");
    }
    requests.push_back(std::move(out));
  }

  // The end of the session cancels what is in flight and fails what awaits the client.
  session->Close();
  for (const auto& out : requests) {
    FUZZ_CHECK(out->finishes() == 1, "every request is answered exactly once");
  }
  return 0;
}
