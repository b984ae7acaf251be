#include "mcp/mcp_server.h"

#include <algorithm>
#include <atomic>
#include <charconv>

namespace llmux::mcp {

namespace {

// A page of `items` starting at the params' cursor (the decimal offset, opaque to clients).
Result<Json> Page(const Json& items, const Json& params, const char* key, size_t page_size) {
  size_t offset = 0;
  if (auto cursor = params.find("cursor"); cursor != params.end() && !cursor->is_null()) {
    const std::string text = cursor->is_string() ? cursor->get<std::string>() : "";
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        offset > items.size()) {
      return InvalidArgumentError("invalid cursor");
    }
  }
  const size_t end = std::min(items.size(), offset + page_size);
  Json page = Json::array();
  for (size_t i = offset; i < end; ++i) page.push_back(items[i]);
  Json result{{key, std::move(page)}};
  if (end < items.size()) result["nextCursor"] = std::to_string(end);
  return result;
}

Result<std::string> StringParam(const Json& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end() || !it->is_string()) {
    return InvalidArgumentError(std::string("params.") + name + " must be a string");
  }
  return it->get<std::string>();
}

// A member that may be absent or null (""), else a string.
Result<std::string> OptionalStringMember(const Json& object, const char* name, const char* path) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return InvalidArgumentError(std::string(path) + " must be a string");
  return it->get<std::string>();
}

// completion/complete's params.context.arguments: the values already chosen ({} when absent).
Result<Json> ContextArguments(const Json& params) {
  auto context = params.find("context");
  if (context == params.end() || context->is_null()) return Json::object();
  if (!context->is_object()) return InvalidArgumentError("params.context must be an object");
  auto arguments = context->find("arguments");
  if (arguments == context->end() || arguments->is_null()) return Json::object();
  if (!arguments->is_object()) {
    return InvalidArgumentError("params.context.arguments must be an object");
  }
  return *arguments;
}

std::optional<Json> ProgressToken(const Json& params) {
  auto meta = params.find("_meta");
  if (meta == params.end() || !meta->is_object()) return std::nullopt;
  auto token = meta->find("progressToken");
  if (token == meta->end() || !(token->is_string() || token->is_number_integer())) {
    return std::nullopt;
  }
  return *token;
}

void Reply(Outbound& out, const Json& id, Result<Json> result) {
  if (result.ok()) {
    out.Finish(ResultMessage(id, std::move(*result)));
  } else {
    out.Finish(ErrorMessage(id, RpcErrorFor(result.status())));
  }
}

// Methods of the session era that the stateless protocol removed.
bool RemovedInStateless(const std::string& method) {
  return method == "initialize" || method == "ping" || method == "logging/setLevel" ||
         method == "resources/subscribe" || method == "resources/unsubscribe" ||
         method == "subscriptions/listen";
}

// Stateless results say what they are (resultType) and how long they may be cached.
class StatelessOutbound : public Outbound {
 public:
  StatelessOutbound(std::shared_ptr<Outbound> out, std::string method)
      : out_(std::move(out)), method_(std::move(method)) {}
  void Send(Json message) override { out_->Send(std::move(message)); }
  void Finish(Json response) override {
    if (response.is_object() && response.contains("result") && response["result"].is_object()) {
      Json& result = response["result"];
      if (!result.contains("resultType")) result["resultType"] = "complete";
      if (method_ == "tools/list" || method_ == "prompts/list" || method_ == "resources/list" ||
          method_ == "resources/templates/list" || method_ == "resources/read") {
        // Lists depend on the caller's permissions and may change as models load.
        result["ttlMs"] = 0;
        result["cacheScope"] = "private";
      }
    }
    out_->Finish(std::move(response));
  }

 private:
  std::shared_ptr<Outbound> out_;
  std::string method_;
};

// Lets only the first Finish through, so that a handler that throws after finishing is not
// answered twice.
class FinishOnceOutbound : public Outbound {
 public:
  explicit FinishOnceOutbound(std::shared_ptr<Outbound> out) : out_(std::move(out)) {}
  void Send(Json message) override { out_->Send(std::move(message)); }
  void Finish(Json response) override {
    if (!finished_.exchange(true)) out_->Finish(std::move(response));
  }

 private:
  std::shared_ptr<Outbound> out_;
  std::atomic<bool> finished_{false};
};

}  // namespace

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> kVersions = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                     "2024-11-05"};
  return kVersions;
}

bool IsSupportedProtocolVersion(std::string_view version) {
  const auto& v = SupportedProtocolVersions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

McpServer::McpServer(McpServerOptions options, std::shared_ptr<Catalog> catalog)
    : options_(std::move(options)), catalog_(std::move(catalog)) {}

Json McpServer::ServerCapabilities() const {
  return Json{{"tools", {{"listChanged", true}}},
              {"resources", {{"subscribe", true}, {"listChanged", true}}},
              {"prompts", {{"listChanged", true}}},
              {"logging", Json::object()},
              {"completions", Json::object()}};
}

Json McpServer::DiscoverResult() const {
  // No list_changed or subscribe: the stateless protocol delivers those through
  // subscriptions/listen, which this server does not offer yet.
  return Json{{"supportedVersions", {kStatelessProtocolVersion}},
              {"capabilities",
               {{"tools", Json::object()},
                {"prompts", Json::object()},
                {"resources", Json::object()},
                {"completions", Json::object()},
                {"logging", Json::object()}}},
              {"instructions", options_.instructions},
              {"resultType", "complete"},
              {"ttlMs", 0},
              {"cacheScope", "private"},
              {"_meta",
               {{"io.modelcontextprotocol/serverInfo",
                 {{"name", options_.name}, {"version", options_.version}}}}}};
}

Json McpServer::InitializeResult(const std::string& requested_version) const {
  const std::string version =
      IsSupportedProtocolVersion(requested_version) ? requested_version : kLatestProtocolVersion;
  return Json{{"protocolVersion", version},
              {"capabilities", ServerCapabilities()},
              {"serverInfo",
               {{"name", options_.name}, {"title", options_.title}, {"version", options_.version}}},
              {"instructions", options_.instructions}};
}

std::function<void()> McpServer::HandleRequest(const Message& request,
                                               const RequestContext& context,
                                               std::shared_ptr<Outbound> out) {
  auto once = std::make_shared<FinishOnceOutbound>(std::move(out));
  try {
    return DispatchRequest(request, context, once);
  } catch (const std::exception& e) {
    once->Finish(ErrorMessage(
        request.id,
        RpcError{rpc_error::kInternalError, std::string(kHandlerDefect) + e.what(), std::nullopt}));
    return nullptr;
  }
}

std::function<void()> McpServer::DispatchRequest(const Message& request,
                                                 const RequestContext& context,
                                                 std::shared_ptr<Outbound> out) {
  const std::string& m = request.method;
  const Json& p = request.params;
  Caller& caller = *context.caller;
  if (context.stateless) {
    if (RemovedInStateless(m)) {
      out->Finish(ErrorMessage(request.id, RpcError{rpc_error::kMethodNotFound,
                                                    "Method not found: " + m +
                                                        " (not part of the stateless protocol)",
                                                    std::nullopt}));
      return nullptr;
    }
    out = std::make_shared<StatelessOutbound>(std::move(out), m);
    if (m == "server/discover") {
      out->Finish(ResultMessage(request.id, DiscoverResult()));
      return nullptr;
    }
  }
  if (m == "tools/call") return CallTool(request, context, std::move(out));

  Result<Json> result = Json::object();
  if (m == "initialize") {
    result = Initialize(p, context);
  } else if (m == "ping") {
    result = Json::object();
  } else if (m == "tools/list") {
    result = ListTools(p, caller);
  } else if (m == "resources/list") {
    result = ListResources(p, caller);
  } else if (m == "resources/templates/list") {
    result = ListResourceTemplates(p);
  } else if (m == "resources/read") {
    result = ReadResource(p, caller);
    if (!result.ok() && result.status().code() == StatusCode::kNotFound) {
      // 2025-11-25 has its own code; the stateless protocol uses invalid params (SEP-2164).
      const int code = context.stateless ? rpc_error::kInvalidParams : rpc_error::kResourceNotFound;
      out->Finish(ErrorMessage(request.id, RpcError{code, "Resource not found",
                                                    Json{{"uri", p.value("uri", "")}}}));
      return nullptr;
    }
  } else if (m == "resources/subscribe" || m == "resources/unsubscribe") {
    result = Subscribe(p, context, m == "resources/subscribe");
  } else if (m == "prompts/list") {
    result = ListPrompts(p);
  } else if (m == "prompts/get") {
    result = GetPrompt(p);
  } else if (m == "completion/complete") {
    result = Complete(p, caller);
  } else if (m == "logging/setLevel") {
    result = SetLogLevel(p, context);
  } else {
    out->Finish(ErrorMessage(request.id, RpcError{rpc_error::kMethodNotFound,
                                                  "Method not found: " + m, std::nullopt}));
    return nullptr;
  }
  Reply(*out, request.id, std::move(result));
  return nullptr;
}

void McpServer::HandleNotification(const Message& message, const RequestContext& context) {
  try {
    HandleNotificationOrResponse(message, context);
  } catch (const std::exception&) {
    // Nothing is answered to a notification; a defect in handling one must not end the transport.
  }
}

void McpServer::HandleNotificationOrResponse(const Message& message,
                                             const RequestContext& context) {
  if (message.kind == Message::Kind::kResponse) {
    if (!context.session) return;
    Result<Json> reply = message.result;
    if (message.error) {
      reply = InvalidArgumentError("the client answered with error " +
                                   std::to_string(message.error->code) + ": " +
                                   message.error->message);
    }
    context.session->ResolveClientRequest(message.id, std::move(reply));
    return;
  }
  if (message.method == "notifications/cancelled") {
    auto id = message.params.find("requestId");
    if (context.session && id != message.params.end()) context.session->CancelInFlight(*id);
  }
  // notifications/initialized, roots/list_changed and progress need nothing from us.
}

Result<Json> McpServer::Initialize(const Json& params, const RequestContext& context) {
  LLMUX_ASSIGN_OR_RETURN(std::string requested, StringParam(params, "protocolVersion"));
  Json result = InitializeResult(requested);
  if (context.session) {
    context.session->SetNegotiated(result["protocolVersion"].get<std::string>(),
                                   params.value("capabilities", Json::object()),
                                   params.value("clientInfo", Json::object()));
  }
  return result;
}

Result<Json> McpServer::ListTools(const Json& params, Caller& caller) {
  Json tools = Json::array();
  for (const ToolDefinition& t : catalog_->Tools()) {
    if (t.permission.empty() || caller.Allows(t.permission)) tools.push_back(t.descriptor);
  }
  return Page(tools, params, "tools", options_.page_size);
}

std::function<void()> McpServer::CallTool(const Message& request, const RequestContext& context,
                                          std::shared_ptr<Outbound> out) {
  const Json& p = request.params;
  auto name = StringParam(p, "name");
  std::optional<ToolDefinition> tool;
  if (name.ok()) tool = catalog_->FindTool(*name);
  if (tool && !tool->permission.empty() && !context.caller->Allows(tool->permission)) {
    tool.reset();  // a tool the caller may not call is one it cannot see either
  }
  if (!tool) {
    std::string why = name.ok() ? "Unknown tool: " + *name : name.status().message();
    out->Finish(ErrorMessage(request.id, RpcError{rpc_error::kInvalidParams, why, std::nullopt}));
    return nullptr;
  }
  if (!p.value("arguments", Json::object()).is_object()) {
    out->Finish(ErrorMessage(request.id, RpcError{rpc_error::kInvalidParams,
                                                  "params.arguments must be an object",
                                                  std::nullopt}));
    return nullptr;
  }
  auto call = std::make_shared<ToolCall>(p, context, ProgressToken(p), out, request.id);
  if (context.session &&
      !context.session->RegisterInFlight(request.id, [call] { call->Cancel(); })) {
    // Answered here, not through the call: its end would unregister the other request.
    out->Finish(ErrorMessage(request.id, RpcError{rpc_error::kInvalidRequest,
                                                  "a request with this id is already in flight",
                                                  std::nullopt}));
    return nullptr;
  }
  try {
    tool->run(call);
  } catch (const std::exception& e) {
    call->Fail(RpcError{rpc_error::kInternalError, std::string(kHandlerDefect) + e.what(),
                        std::nullopt});
  }
  if (call->done()) return nullptr;
  return [call] { call->Cancel(); };
}

Result<Json> McpServer::ListResources(const Json& params, const Caller& caller) {
  Json resources = Json::array();
  for (const auto& r : catalog_->Resources()) {
    if (!r.visible || r.visible(caller)) resources.push_back(r.descriptor);
  }
  return Page(resources, params, "resources", options_.page_size);
}

Result<Json> McpServer::ListResourceTemplates(const Json& params) {
  Json templates = Json::array();
  for (const auto& t : catalog_->ResourceTemplates()) templates.push_back(t.descriptor);
  return Page(templates, params, "resourceTemplates", options_.page_size);
}

Result<Json> McpServer::ReadResource(const Json& params, Caller& caller) {
  LLMUX_ASSIGN_OR_RETURN(std::string uri, StringParam(params, "uri"));
  LLMUX_ASSIGN_OR_RETURN(Json contents, catalog_->ReadResource(uri, caller));
  return Json{{"contents", std::move(contents)}};
}

Result<Json> McpServer::Subscribe(const Json& params, const RequestContext& context,
                                  bool subscribe) {
  LLMUX_ASSIGN_OR_RETURN(std::string uri, StringParam(params, "uri"));
  if (!context.session) return InvalidArgumentError("subscriptions need a session");
  if (subscribe) {
    context.session->Subscribe(uri);
  } else {
    context.session->Unsubscribe(uri);
  }
  return Json::object();
}

Result<Json> McpServer::ListPrompts(const Json& params) {
  Json prompts = Json::array();
  for (const auto& p : catalog_->Prompts()) prompts.push_back(p.descriptor);
  return Page(prompts, params, "prompts", options_.page_size);
}

Result<Json> McpServer::GetPrompt(const Json& params) {
  LLMUX_ASSIGN_OR_RETURN(std::string name, StringParam(params, "name"));
  auto prompt = catalog_->FindPrompt(name);
  if (!prompt) return InvalidArgumentError("Unknown prompt: " + name);
  Json arguments = params.value("arguments", Json::object());
  if (!arguments.is_object()) return InvalidArgumentError("params.arguments must be an object");
  for (const auto& arg : prompt->descriptor.value("arguments", Json::array())) {
    const std::string arg_name = arg.value("name", "");
    if (arg.value("required", false) && !arguments.contains(arg_name)) {
      return InvalidArgumentError("missing required argument: " + arg_name);
    }
  }
  return prompt->get(arguments, params);
}

Result<Json> McpServer::Complete(const Json& params, const Caller& caller) {
  auto ref = params.find("ref");
  auto argument = params.find("argument");
  if (ref == params.end() || !ref->is_object() || argument == params.end() ||
      !argument->is_object()) {
    return InvalidArgumentError("completion/complete needs params.ref and params.argument");
  }
  // Members of the wrong type are refused here: json::value() would throw on them.
  LLMUX_ASSIGN_OR_RETURN(std::string type, OptionalStringMember(*ref, "type", "params.ref.type"));
  LLMUX_ASSIGN_OR_RETURN(std::string arg_name,
                         OptionalStringMember(*argument, "name", "params.argument.name"));
  LLMUX_ASSIGN_OR_RETURN(std::string value,
                         OptionalStringMember(*argument, "value", "params.argument.value"));
  LLMUX_ASSIGN_OR_RETURN(Json context_args, ContextArguments(params));
  std::vector<std::string> values;
  if (type == "ref/prompt") {
    LLMUX_ASSIGN_OR_RETURN(std::string name, OptionalStringMember(*ref, "name", "params.ref.name"));
    auto prompt = catalog_->FindPrompt(name);
    if (!prompt) return InvalidArgumentError("Unknown prompt: " + name);
    if (prompt->complete) values = prompt->complete(arg_name, value, context_args, caller);
  } else if (type == "ref/resource") {
    LLMUX_ASSIGN_OR_RETURN(std::string uri, OptionalStringMember(*ref, "uri", "params.ref.uri"));
    bool found = false;
    for (const auto& t : catalog_->ResourceTemplates()) {
      if (t.uri_template() != uri) continue;
      found = true;
      if (t.complete) values = t.complete(arg_name, value, context_args, caller);
    }
    if (!found) return InvalidArgumentError("Unknown resource template: " + uri);
  } else {
    return InvalidArgumentError("params.ref.type must be ref/prompt or ref/resource");
  }
  // The spec caps one answer at 100 values.
  const size_t total = values.size();
  if (values.size() > 100) values.resize(100);
  return Json{{"completion", {{"values", values}, {"total", total}, {"hasMore", total > 100}}}};
}

Result<Json> McpServer::SetLogLevel(const Json& params, const RequestContext& context) {
  LLMUX_ASSIGN_OR_RETURN(std::string name, StringParam(params, "level"));
  auto level = ParseLogLevel(name);
  if (!level) return InvalidArgumentError("unknown log level: " + name);
  if (context.session) context.session->SetLogLevel(*level);
  return Json::object();
}

void McpServer::NotifyResourceUpdated(SessionRegistry& sessions, const std::string& uri) {
  for (const auto& session : sessions.All()) {
    if (session->Subscribed(uri)) {
      session->Notify(NotificationMessage("notifications/resources/updated", {{"uri", uri}}));
    }
  }
}

void McpServer::NotifyListChanged(SessionRegistry& sessions, const std::string& list) {
  for (const auto& session : sessions.All()) {
    session->Notify(NotificationMessage("notifications/" + list + "/list_changed", Json::object()));
  }
}

}  // namespace llmux::mcp
