#include "mcp_fuzz_catalog.h"

#include <set>
#include <string>

#include "chat/chat_template.h"
#include "mcp/conformance_fixtures.h"
#include "mcp/serving_catalog.h"
#include "serving/inference_service.h"
#include "serving/request_validation.h"

namespace llmux::fuzz {
namespace {

class NoopHandle : public serving::RequestHandle {
 public:
  void Cancel() override {}
};

// Validates and renders like the real service, then streams one delta and finishes, all
// before returning: the tools must cope with a generation that ends that fast.
class InstantService : public serving::InferenceService {
 public:
  std::vector<serving::ModelInfo> ListModels() const override {
    return {{"m1", "qwen3", "Q8_0", 4096, 0, true}, {"secret", "llama", "F16", 2048, 0, true}};
  }
  bool Ready() const override { return true; }

  Result<std::shared_ptr<serving::RequestHandle>> Chat(
      serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) override {
    LLMUX_RETURN_IF_ERROR(Known(request.model));
    LLMUX_RETURN_IF_ERROR(serving::ValidateChatRequest(request));
    auto chat_template = chat::MakeChatTemplate("qwen3");
    LLMUX_ASSIGN_OR_RETURN(std::string prompt,
                           (*chat_template)->Render(request.messages, request.tools, {}));
    return Answer(static_cast<int>(prompt.size()), *sink);
  }

  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) override {
    LLMUX_RETURN_IF_ERROR(Known(request.model));
    LLMUX_RETURN_IF_ERROR(serving::ValidateCompletionRequest(request));
    return Answer(static_cast<int>(request.prompt.size()), *sink);
  }

 private:
  static Status Known(const std::string& model) {
    if (model == "m1" || model == "secret") return Status();
    return NotFoundError("no model " + model);
  }

  static std::shared_ptr<serving::RequestHandle> Answer(int prompt_tokens, serving::Sink& sink) {
    serving::Delta delta;
    delta.content = "ok";
    sink.OnDelta(delta);
    serving::Finish finish;
    finish.usage.prompt_tokens = prompt_tokens;
    finish.usage.completion_tokens = 1;
    sink.OnFinish(finish);
    return std::make_shared<NoopHandle>();
  }
};

class FuzzCaller : public mcp::Caller {
 public:
  std::string subject() const override { return "user:fuzz"; }
  std::string share() const override { return "user:fuzz"; }
  bool Allows(std::string_view permission) const override {
    return permission != "metrics:read" && permission != "admin";
  }
  bool MayUseModel(std::string_view model) const override { return model != "secret"; }
  Status AllowModel(std::string_view model) override {
    if (MayUseModel(model)) return Status();
    return PermissionDeniedError("may not use " + std::string(model));
  }
  std::shared_ptr<serving::Sink> Track(std::shared_ptr<serving::Sink> sink,
                                       std::string_view) override {
    return std::make_shared<UsageCheckingSink>(std::move(sink));
  }

 private:
  // Passes everything on; a finish never reports negative usage.
  class UsageCheckingSink : public serving::Sink {
   public:
    explicit UsageCheckingSink(std::shared_ptr<serving::Sink> inner) : inner_(std::move(inner)) {}
    void OnDelta(const serving::Delta& d) override { inner_->OnDelta(d); }
    void OnFinish(const serving::Finish& f) override {
      if (f.usage.total_tokens() < 0) std::abort();
      inner_->OnFinish(f);
    }

   private:
    std::shared_ptr<serving::Sink> inner_;
  };
};

// The fixtures that report progress or log messages from a thread of their own: threads per
// input would slow the fuzzer and outlive the input.
const std::set<std::string>& ThreadedFixtures() {
  static const std::set<std::string> names = {"test_tool_with_logging", "test_tool_with_progress"};
  return names;
}

}  // namespace

std::shared_ptr<mcp::Catalog> McpFuzzCatalog() {
  static InstantService service;
  auto catalog = std::make_shared<mcp::Catalog>();
  mcp::ServingCatalogOptions options;
  options.tool_permission = [](const std::string& tool) -> std::string {
    return tool == "complete" ? "admin" : "models:use";
  };
  options.metrics_text = [] { return std::string("llmux_requests_total 1\n"); };
  mcp::AddServingCatalog(*catalog, service, options);

  mcp::Catalog fixtures;
  mcp::AddConformanceFixtures(fixtures);
  for (auto& tool : fixtures.Tools()) {
    if (ThreadedFixtures().count(tool.name()) == 0) catalog->AddTool(std::move(tool));
  }
  for (auto& resource : fixtures.Resources()) catalog->AddResource(std::move(resource));
  for (auto& t : fixtures.ResourceTemplates()) catalog->AddResourceTemplate(std::move(t));
  for (auto& prompt : fixtures.Prompts()) catalog->AddPrompt(std::move(prompt));
  return catalog;
}

std::shared_ptr<mcp::Caller> McpFuzzCaller() { return std::make_shared<FuzzCaller>(); }

}  // namespace llmux::fuzz
