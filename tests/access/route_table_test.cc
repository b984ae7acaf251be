// The route table is complete and exact: every HTTP route the gateway registers has a rule
// (GuardedRouter refuses others), every rule names a route that exists, and every method of
// the gRPC services has a rule.
#include "gateway/access/route_table.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "auth/local_auth_service.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/admin_routes.h"
#include "gateway/admin/deploy_routes.h"
#include "gateway/admin/me_route.h"
#include "gateway/admin/metrics_history_routes.h"
#include "gateway/admin/model_pull_routes.h"
#include "gateway/admin/model_routes.h"
#include "gateway/admin/prompt_routes.h"
#include "gateway/admin/registry_routes.h"
#include "gateway/admin/request_log_routes.h"
#include "gateway/admin/served_models.h"
#include "gateway/admin/session_routes.h"
#include "gateway/admin/worker_routes.h"
#include "gateway/anthropic/anthropic_routes.h"
#include "gateway/console/console_routes.h"
#include "gateway/mcp/mcp_endpoint.h"
#include "gateway/ollama/ollama_pull_route.h"
#include "gateway/ollama/ollama_routes.h"
#include "gateway/openai/openai_routes.h"
#include "llmux/v1/auth.pb.h"
#include "llmux/v1/inference.pb.h"
#include "llmux/v1/mcp.pb.h"
#include "llmux/v1/registry.pb.h"
#include "net/pull/model_puller.h"
#include "rollout/deploy_service.h"
#include "services/prompts/prompt_service.h"
#include "services/registry/registry_service.h"
#include "services/requestlog/request_log.h"
#include "serving/inference_service.h"
#include "serving/metric_history.h"
#include "serving/model_manager.h"
#include "serving/worker_admin.h"
#include "store/sqlite_store.h"

namespace llmux::gateway {
namespace {

class NoModels final : public serving::InferenceService, public serving::ModelManager {
 public:
  Status LoadModel(serving::ModelSpec) override { return UnavailableError("no models"); }
  Status UnloadModel(const std::string&) override { return UnavailableError("no models"); }
  std::vector<serving::ModelInfo> ListModels() const override { return {}; }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest,
                                                       std::shared_ptr<serving::Sink>) override {
    return UnavailableError("no models");
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(serving::CompletionRequest,
                                                           std::shared_ptr<serving::Sink>) override {
    return UnavailableError("no models");
  }
};

class NoServedModels : public ServedModels {
 public:
  std::vector<std::string> ReferringTo(const std::string&, const std::string&,
                                       const registry::Version&) const override {
    return {};
  }
  Result<ServedUpdate> Update(const std::string&, const registry::Version&,
                              const audit::Actor&) override {
    return NotFoundError("nothing served");
  }
};

class NoWorkers : public serving::WorkerAdmin {
 public:
  std::vector<serving::WorkerStatus> Workers() const override { return {}; }
  Result<int> DrainWorker(const std::string&) override { return NotFoundError("no workers"); }
};

TEST(RouteTableTest, EveryHttpRouteHasExactlyOneRuleAndEveryRuleARoute) {
  char tmpl[] = "/tmp/llmux-routes-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  auto store = store::OpenSqliteStore(std::string(tmpl) + "/store.db");
  ASSERT_TRUE(store.ok());
  auth::LocalAuthService auth(**store, **store);
  NoModels service;
  http::HttpServer server;
  AccessGate gate(&auth, nullptr);
  GuardedRouter router(server, gate, OpenAiErrorResponse);
  RegisterOpenAiRoutes(router, service, {});
  RegisterAdminRoutes(router, auth);
  RegisterSessionRoutes(router, auth);
  RegisterMeRoute(router);
  RegisterConsoleRoutes(router, {});
  prompts::PromptService prompt_service(**store, **store);
  RegisterPromptRoutes(router, prompt_service);
  registry::RegistryService registry_service(**store, **store);
  NoServedModels served;
  RegisterRegistryRoutes(router, registry_service, &service, &served);
  requestlog::RequestLog request_log(**store, {});
  RegisterRequestLogRoutes(router, request_log);
  NoWorkers workers;
  RegisterWorkerRoutes(router, workers);
  serving::MetricHistory history;
  RegisterMetricsHistoryRoutes(router, history);
  RegisterModelRoutes(router, service);
  auto etcd = discovery::EtcdClient::Create({{"127.0.0.1:1"}});  // never dialled here
  ASSERT_TRUE(etcd.ok());
  serving::ModelRoutes routes;
  rollout::DeployService deploys(**etcd, routes, service, {});
  RegisterDeployRoutes(router, deploys);
  pull::PullerOptions pull_options;
  pull_options.models_dir = std::string(tmpl) + "/models";
  pull::ModelPuller puller(pull_options);
  RegisterModelPullRoutes(router, puller);
  McpEndpoint mcp(service, {});
  mcp.Register(router);
  // The Ollama API has a router of its own (its refusals are Ollama-shaped), on the same gate.
  GuardedRouter ollama_router(server, gate, OllamaErrorResponse);
  RegisterOllamaRoutes(ollama_router, service);
  RegisterOllamaPullRoute(ollama_router, puller);

  // So has Anthropic's Messages API.
  GuardedRouter anthropic_router(server, gate, AnthropicErrorResponse);
  RegisterAnthropicRoutes(anthropic_router, service);

  std::vector<std::string> all = router.routes();
  all.insert(all.end(), ollama_router.routes().begin(), ollama_router.routes().end());
  all.insert(all.end(), anthropic_router.routes().begin(), anthropic_router.routes().end());
  std::set<std::string> registered(all.begin(), all.end());
  EXPECT_EQ(registered.size(), all.size()) << "a route was registered twice";
  std::set<std::string> ruled;
  for (const RouteRule& r : RouteTable()) {
    if (r.protocol != Protocol::kHttp) continue;
    EXPECT_TRUE(ruled.insert(std::string(r.method) + " " + std::string(r.path)).second)
        << "two rules for " << r.method << " " << r.path;
    if (r.access == Access::kPublic) {
      EXPECT_TRUE(r.path == "/health" || r.path.rfind("/.well-known/", 0) == 0 ||
                  r.path == "/console" || r.path == "/console/")
          << "only /health, the well-known metadata and the console's static files may be public, "
             "not "
          << r.path;
    }
    if (r.access == Access::kOwnCredentials) {
      EXPECT_EQ(r.path.rfind("/auth/", 0), 0u) << "only the login routes take credentials in the body";
    }
    if (r.access == Access::kPermission) {
      EXPECT_FALSE(r.permission.empty()) << r.path;
    }
  }
  EXPECT_EQ(registered, ruled);

  // A route without a rule cannot be registered at all.
  EXPECT_THROW(router.Route("GET", "/v1/secret-debug", nullptr), std::logic_error);
  // Only the console's static files are a prefix rule, and a prefix rule is only served as one.
  for (const RouteRule& r : RouteTable()) {
    if (r.prefix) {
      EXPECT_EQ(r.path, "/console/");
      EXPECT_EQ(r.path.back(), '/');
    }
  }
  EXPECT_THROW(router.Route("GET", "/console/", nullptr), std::logic_error);
  EXPECT_THROW(router.RoutePrefix("GET", "/admin/v1/", nullptr), std::logic_error);
  EXPECT_THROW(router.RoutePrefix("GET", "/admin/v1/users", nullptr), std::logic_error);
  std::filesystem::remove_all(tmpl);
}

// Every tool the MCP endpoint serves has a rule, and every MCP rule names a served tool.
TEST(RouteTableTest, EveryMcpToolHasARuleAndEveryRuleATool) {
  NoModels service;
  McpEndpointOptions options;
  options.models = &service;  // so that load_model and unload_model are served
  McpEndpoint mcp(service, options);  // throws for a tool without a rule
  std::set<std::string> served;
  for (const auto& tool : mcp.server().catalog().Tools()) served.insert(tool.name());
  std::set<std::string> ruled;
  for (const RouteRule& r : RouteTable()) {
    if (r.protocol == Protocol::kMcp) ruled.insert(std::string(r.path));
  }
  EXPECT_EQ(served, ruled);
  EXPECT_EQ(McpToolPermission("list_models"), "");
  EXPECT_EQ(McpToolPermission("load_model"), "models:manage");
  EXPECT_EQ(McpToolPermission("unload_model"), "models:manage");
  EXPECT_THROW(McpToolPermission("rm_rf"), std::logic_error);
}

TEST(RouteTableTest, EveryModelRouteNeedsTheModelAndCountsAgainstTheLimits) {
  for (const char* path :
       {"/v1/chat/completions", "/v1/completions", "/api/chat", "/api/generate", "/tokenize",
        "/detokenize", "/v1/messages", "/v1/messages/count_tokens"}) {
    const RouteRule* rule = FindRouteRule(Protocol::kHttp, "POST", path);
    ASSERT_NE(rule, nullptr) << path;
    EXPECT_EQ(rule->access, Access::kModelUse) << path;
    EXPECT_TRUE(rule->limited) << path;
  }
}

// A pull writes into the models directory and fetches from the network: operators only.
TEST(RouteTableTest, PullsNeedModelsManage) {
  for (const char* path : {"/admin/v1/models/pull", "/api/pull"}) {
    const RouteRule* rule = FindRouteRule(Protocol::kHttp, "POST", path);
    ASSERT_NE(rule, nullptr) << path;
    EXPECT_EQ(rule->access, Access::kPermission) << path;
    EXPECT_EQ(rule->permission, "models:manage") << path;
  }
}

// Changing what this process serves (load, unload, hot update) is for operators; reading the
// registry is for models:read.
TEST(RouteTableTest, ServedModelChangesNeedModelsManage) {
  for (const char* path :
       {"/admin/v1/models/load", "/admin/v1/models/unload", "/admin/v1/models/update"}) {
    const RouteRule* rule = FindRouteRule(Protocol::kHttp, "POST", path);
    ASSERT_NE(rule, nullptr) << path;
    EXPECT_EQ(rule->access, Access::kPermission) << path;
    EXPECT_EQ(rule->permission, "models:manage") << path;
    EXPECT_FALSE(rule->limited) << path;
  }
  const RouteRule* read = FindRouteRule(Protocol::kHttp, "GET", "/admin/v1/registry/models");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->permission, "models:read");
}

TEST(RouteTableTest, EveryGrpcMethodHasARule) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  // Linking inference.pb.h registers the llmux.v1 services in the pool.
  const auto* inference = v1::ChatRequest::descriptor()->file()->FindServiceByName("Inference");
  ASSERT_NE(inference, nullptr);
  ASSERT_NE(pool, nullptr);
  for (int i = 0; i < inference->method_count(); ++i) {
    const std::string name = "/" + inference->full_name() + "/" + inference->method(i)->name();
    const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", name);
    ASSERT_NE(rule, nullptr) << name << " has no rule";
    if (inference->method(i)->name() != "ListModels") {
      EXPECT_EQ(rule->access, Access::kModelUse) << name;
      EXPECT_TRUE(rule->limited) << name;
    }
  }
  const auto* auth = v1::LoginRequest::descriptor()->file()->FindServiceByName("Auth");
  ASSERT_NE(auth, nullptr);
  for (int i = 0; i < auth->method_count(); ++i) {
    const std::string name = "/" + auth->full_name() + "/" + auth->method(i)->name();
    const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", name);
    ASSERT_NE(rule, nullptr) << name << " has no rule";
    // Only the session methods take their credential in the request; the rest need a permission.
    const bool session = auth->method(i)->name() == "Login" || auth->method(i)->name() == "Refresh" ||
                         auth->method(i)->name() == "Logout";
    EXPECT_EQ(rule->access, session ? Access::kOwnCredentials : Access::kPermission) << name;
  }
  // MCP over gRPC: any authenticated caller, limited like POST /mcp.
  const auto* mcp = v1::JsonRpcMessage::descriptor()->file()->FindServiceByName("Mcp");
  ASSERT_NE(mcp, nullptr);
  for (int i = 0; i < mcp->method_count(); ++i) {
    const std::string name = "/" + mcp->full_name() + "/" + mcp->method(i)->name();
    const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", name);
    ASSERT_NE(rule, nullptr) << name << " has no rule";
    EXPECT_EQ(rule->access, Access::kAuthenticated) << name;
    EXPECT_TRUE(rule->limited) << name;
  }
  // The registry over gRPC: reads need models:read, changes models:manage, as over HTTP.
  const auto* registry = v1::RegistryVersion::descriptor()->file()->FindServiceByName("Registry");
  ASSERT_NE(registry, nullptr);
  for (int i = 0; i < registry->method_count(); ++i) {
    const std::string& method = registry->method(i)->name();
    const std::string name = "/" + registry->full_name() + "/" + method;
    const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", name);
    ASSERT_NE(rule, nullptr) << name << " has no rule";
    EXPECT_EQ(rule->access, Access::kPermission) << name;
    const bool read = method == "ListModels" || method == "Resolve" || method == "History";
    EXPECT_EQ(rule->permission, read ? "models:read" : "models:manage") << name;
  }
  // Every gRPC rule names a method that exists.
  for (const RouteRule& r : RouteTable()) {
    if (r.protocol != Protocol::kGrpc) continue;
    const std::string_view path = r.path;
    const size_t slash = path.rfind('/');
    const std::string service(path.substr(1, slash - 1)), method(path.substr(slash + 1));
    if (service.rfind("grpc.", 0) == 0) continue;  // gRPC's own health and reflection services
    const auto* descriptor = pool->FindServiceByName(service);
    ASSERT_NE(descriptor, nullptr) << path;
    EXPECT_NE(descriptor->FindMethodByName(method), nullptr) << path;
  }
  // Public gRPC methods are the health service only.
  for (const RouteRule& r : RouteTable()) {
    if (r.protocol == Protocol::kGrpc && r.access == Access::kPublic) {
      EXPECT_EQ(r.path.rfind("/grpc.health.v1.Health/", 0), 0u) << r.path;
    }
  }
}

}  // namespace
}  // namespace llmux::gateway
