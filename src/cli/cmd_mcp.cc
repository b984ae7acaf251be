// `llmux mcp --stdio`: the MCP service for a local client (Claude Desktop, an IDE) that starts
// llmux as a child process and talks JSON-RPC over its stdin and stdout. Either this process
// hosts the models itself (--model), or it forwards to a running `llmux serve` (--url).
// stdout carries only protocol messages; logs and errors go to stderr.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/mcp_http_bridge.h"
#include "cli/model_args.h"
#include "cli/role_flags.h"
#include "mcp/caller.h"
#include "mcp/mcp_server.h"
#include "mcp/serving_catalog.h"
#include "mcp/session.h"
#include "mcp/stdio_transport.h"
#include "net/http/http_client.h"
#include "serving/local_inference_service.h"

namespace llmux::cli {

namespace {

struct McpOptions {
  bool stdio = false;
  // Hosting.
  std::vector<std::string> models;  // FILE or NAME=FILE
  serving::ModelHostOptions model_host;
  // Forwarding.
  std::string url;
  std::string api_key;
  std::string ca_file;
  int request_timeout_s = 3600;
};

// The protocol gets its own descriptor for stdout, and fd 1 becomes stderr: a stray print
// anywhere in the process cannot corrupt the message stream. Returns the protocol's fd.
Result<int> TakeStdoutForProtocol() {
  const int out = dup(STDOUT_FILENO);
  if (out < 0) return IoError("cannot duplicate stdout");
  if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) return IoError("cannot redirect stdout to stderr");
  return out;
}

int Host(const McpOptions& o, int out_fd) {
  std::vector<serving::ModelSpec> specs;
  for (const std::string& m : o.models) specs.push_back(ParseModelArg(m));
  serving::LocalInferenceService service(specs, o.model_host);
  // Loaded before the first message is read, so that no tool call finds a model loading.
  if (Status loaded = service.WaitLoaded(); !loaded.ok()) return ReportError(loaded);
  spdlog::info("mcp: serving {} model(s) over stdio", specs.size());

  auto catalog = std::make_shared<mcp::Catalog>();
  mcp::ServingCatalogOptions catalog_options;
  // The local user may do everything: no tool needs a permission.
  catalog_options.tool_permission = [](const std::string&) { return std::string(); };
  catalog_options.metrics_text = [&service] { return service.metrics().Serialize(); };
  mcp::AddServingCatalog(*catalog, service, catalog_options);
  Status status;
  {
    mcp::McpServer server(mcp::McpServerOptions{}, catalog);
    // The one session lives in a registry so that server-wide notifications reach it.
    mcp::SessionRegistry sessions;
    mcp::StdioTransportOptions transport_options;
    transport_options.sessions = &sessions;
    auto transport =
        mcp::StdioTransport::Create(server, std::make_shared<mcp::TrustedCaller>("local"),
                                    STDIN_FILENO, out_fd, transport_options);
    if (!transport.ok()) return ReportError(transport.status());
    status = (*transport)->Run();
  }
  service.Drain(2000);
  return status.ok() ? 0 : ReportError(status);
}

int Forward(const McpOptions& o, int out_fd) {
  if (auto url = http::ParseUrl(o.url); !url.ok())
    return ReportError(url.status().WithContext("--url"));
  McpBridgeOptions bridge_options;
  bridge_options.url = o.url;
  bridge_options.api_key = o.api_key;
  bridge_options.ca_file = o.ca_file;
  bridge_options.request_timeout = std::chrono::seconds(o.request_timeout_s);
  int abandoned = 0;
  Status status;
  {
    McpHttpBridge bridge(bridge_options, STDIN_FILENO, out_fd);
    status = bridge.Run();
    abandoned = bridge.abandoned();
  }
  const int code = status.ok() ? 0 : ReportError(status);
  if (abandoned > 0) {
    // Their threads are blocked in HTTP calls the server did not end; do not run the
    // process's destructors under them.
    spdlog::warn("mcp: {} forwarded request(s) still open at exit", abandoned);
    std::fflush(stderr);
    std::_Exit(code);
  }
  return code;
}

int RunMcp(const McpOptions& o) {
  // A client that goes away must make writes fail, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto out_fd = TakeStdoutForProtocol();
  if (!out_fd.ok()) return ReportError(out_fd.status());
  const int code = o.url.empty() ? Host(o, *out_fd) : Forward(o, *out_fd);
  close(*out_fd);
  return code;
}

}  // namespace

Command AddMcpCommand(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "mcp",
      "the MCP service for a local client over stdio, hosting models or forwarding to a server");
  auto o = std::make_shared<McpOptions>();
  sub->add_flag("--stdio", o->stdio,
                "speak MCP over stdin/stdout (newline-delimited JSON-RPC; logs on stderr)")
      ->required();
  auto* model = sub->add_option("-m,--model", o->models,
                                "host this GGUF model, as FILE or NAME=FILE (repeatable)");
  auto* url = sub->add_option("--url", o->url,
                              "forward to a running llmux instead: its MCP endpoint, e.g. "
                              "http://127.0.0.1:8080/mcp");
  model->excludes(url);
  url->excludes(model);
  sub->add_option("--api-key", o->api_key, "with --url: the API key (or an access token) to send")
      ->envname("LLMUX_API_KEY");
  sub->add_option("--ca-file", o->ca_file, "with an https --url: CA certificates to trust");
  sub->add_option("--request-timeout", o->request_timeout_s,
                  "with --url: seconds one forwarded request may take")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  AddModelHostFlags(sub, &o->model_host);
  sub->callback([o, model, url] {
    if (model->count() == 0 && url->count() == 0) {
      throw CLI::ValidationError("llmux mcp",
                                 "give --model FILE (host models) or --url URL (forward)");
    }
  });
  return {sub, [o] { return RunMcp(*o); }};
}

}  // namespace llmux::cli
