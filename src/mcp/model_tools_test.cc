// load_model and unload_model over a fake model manager: the model directory check, the
// arguments, the calls they make, their notifications hook and the thread they run on.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "mcp/mcp_server.h"
#include "mcp/serving_catalog.h"
#include "serving/model_manager.h"

namespace llmux::mcp {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/llmux-model-tools-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void Touch(const fs::path& p) { std::ofstream(p) << "x"; }

TEST(ResolveModelPathTest, OnlyFilesInsideTheDirectory) {
  TempDir root;
  const fs::path models = fs::path(root.path()) / "models";
  fs::create_directories(models / "sub");
  Touch(models / "a.gguf");
  Touch(models / "sub" / "b.gguf");
  Touch(fs::path(root.path()) / "outside.gguf");
  fs::create_symlink(fs::path(root.path()) / "outside.gguf", models / "link-out.gguf");
  fs::create_symlink(models / "a.gguf", models / "link-in.gguf");
  const std::string a = fs::canonical(models / "a.gguf").string();

  auto r = ResolveModelPath(models.string(), "a.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, a);
  EXPECT_EQ(*ResolveModelPath(models.string(), "sub/../a.gguf"), a);
  EXPECT_EQ(*ResolveModelPath(models.string(), (models / "sub" / "b.gguf").string()),
            fs::canonical(models / "sub" / "b.gguf").string());
  EXPECT_EQ(*ResolveModelPath(models.string(), "link-in.gguf"), a);

  for (const std::string& escape :
       {std::string("../outside.gguf"), std::string("../../etc/passwd"), std::string("/etc/passwd"),
        std::string("link-out.gguf"), std::string("sub/../../outside.gguf"),
        (fs::path(root.path()) / "outside.gguf").string()}) {
    auto e = ResolveModelPath(models.string(), escape);
    EXPECT_EQ(e.status().code(), StatusCode::kPermissionDenied) << escape;
    EXPECT_NE(e.status().message().find("inside the model directory"), std::string::npos);
  }
  // The directory itself, a directory in it, a missing file, no directory configured.
  EXPECT_FALSE(ResolveModelPath(models.string(), ".").ok());
  EXPECT_EQ(ResolveModelPath(models.string(), "sub").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveModelPath(models.string(), "nope.gguf").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ResolveModelPath("", "a.gguf").ok());
  EXPECT_FALSE(ResolveModelPath(models.string(), "").ok());
}

// Serves nothing; records what the tools ask of it.
class FakeModels final : public serving::InferenceService, public serving::ModelManager {
 public:
  std::vector<serving::ModelInfo> ListModels() const override {
    std::lock_guard lock(mu);
    std::vector<serving::ModelInfo> out;
    for (const auto& n : names) out.push_back(serving::ModelInfo{n, "llama", "F32", 512, 0, true});
    return out;
  }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest,
                                                       std::shared_ptr<serving::Sink>) override {
    return UnavailableError("no generation here");
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(serving::CompletionRequest,
                                                           std::shared_ptr<serving::Sink>) override {
    return UnavailableError("no generation here");
  }
  Status LoadModel(serving::ModelSpec spec) override {
    std::lock_guard lock(mu);
    load_threads.push_back(std::this_thread::get_id());
    loaded_paths.push_back(spec.path);
    for (const auto& n : names) {
      if (n == spec.name) return AlreadyExistsError("taken: " + n);
    }
    names.push_back(spec.name);
    return Status();
  }
  Status UnloadModel(const std::string& name) override {
    std::lock_guard lock(mu);
    for (auto it = names.begin(); it != names.end(); ++it) {
      if (*it == name) {
        names.erase(it);
        return Status();
      }
    }
    return NotFoundError("the model '" + name + "' does not exist");
  }

  mutable std::mutex mu;
  std::vector<std::string> names;
  std::vector<std::string> loaded_paths;
  std::vector<std::thread::id> load_threads;
};

class WaitingOutbound : public Outbound {
 public:
  void Send(Json message) override {
    std::lock_guard lock(mu);
    sent.push_back(std::move(message));
  }
  void Finish(Json response) override { done.set_value(std::move(response)); }
  std::mutex mu;
  std::vector<Json> sent;
  std::promise<Json> done;
};

class ModelToolsTest : public ::testing::Test {
 protected:
  ModelToolsTest() {
    models_dir_ = (fs::path(root_.path()) / "models").string();
    fs::create_directories(models_dir_);
    Touch(fs::path(models_dir_) / "m.gguf");
    auto catalog = std::make_shared<Catalog>();
    ServingCatalogOptions options;
    options.models = &fake_;
    options.model_dir = models_dir_;
    options.threads = &threads_;
    options.on_models_changed = [this](const std::string& model, bool loaded) {
      std::lock_guard lock(fake_.mu);
      changes_.push_back((loaded ? "+" : "-") + model);
    };
    AddServingCatalog(*catalog, fake_, options);
    server_ = std::make_unique<McpServer>(McpServerOptions{}, catalog);
    context_.caller = std::make_shared<TrustedCaller>();
  }

  // tools/call with a progress token; the result (or error) message.
  Json CallTool(const std::string& tool, Json arguments, std::vector<Json>* sent = nullptr) {
    Message m;
    m.kind = Message::Kind::kRequest;
    m.id = 7;
    m.method = "tools/call";
    m.params = {{"name", tool}, {"arguments", std::move(arguments)}, {"_meta", {{"progressToken", "p"}}}};
    auto out = std::make_shared<WaitingOutbound>();
    server_->HandleRequest(m, context_, out);
    auto future = out->done.get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    Json reply = future.get();
    if (sent != nullptr) {
      std::lock_guard lock(out->mu);
      *sent = out->sent;
    }
    return reply;
  }

  TempDir root_;
  std::string models_dir_;
  FakeModels fake_;
  std::vector<std::string> changes_;
  std::unique_ptr<McpServer> server_;
  RequestContext context_;
  ToolThreads threads_;  // last: joined before the rest goes
};

TEST_F(ModelToolsTest, LoadsFromTheModelDirectoryOnAThreadOfItsOwn) {
  std::vector<Json> sent;
  Json r = CallTool("load_model", {{"name", "extra"}, {"path", "m.gguf"}}, &sent);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_FALSE(r["result"].value("isError", false)) << r.dump();
  EXPECT_EQ(r["result"]["structuredContent"]["name"], "extra");
  std::lock_guard lock(fake_.mu);
  ASSERT_EQ(fake_.loaded_paths.size(), 1u);
  EXPECT_EQ(fake_.loaded_paths[0], fs::canonical(fs::path(models_dir_) / "m.gguf").string());
  EXPECT_NE(fake_.load_threads[0], std::this_thread::get_id());
  EXPECT_EQ(changes_, (std::vector<std::string>{"+extra"}));
  ASSERT_EQ(sent.size(), 2u);  // "loading", "loaded"
  EXPECT_EQ(sent[0]["method"], "notifications/progress");
  EXPECT_EQ(sent[1]["params"]["progress"], 1);
}

TEST_F(ModelToolsTest, RefusalsAreToolErrorsWithTheReason) {
  auto error_text = [](const Json& r) {
    EXPECT_TRUE(r["result"].value("isError", false)) << r.dump();
    return r["result"]["content"][0]["text"].get<std::string>();
  };
  EXPECT_NE(error_text(CallTool("load_model", {{"name", "x"}, {"path", "../../etc/passwd"}}))
                .find("inside the model directory"),
            std::string::npos);
  EXPECT_NE(error_text(CallTool("load_model", {{"name", "x"}})).find("path"), std::string::npos);
  EXPECT_NE(error_text(CallTool("load_model", {{"name", "a/b"}, {"path", "m.gguf"}})).find("name"),
            std::string::npos);
  EXPECT_NE(error_text(CallTool("load_model", {{"name", "x"}, {"path", "missing.gguf"}}))
                .find("missing.gguf"),
            std::string::npos);
  ASSERT_FALSE(CallTool("load_model", {{"name", "x"}, {"path", "m.gguf"}})["result"].value("isError", false));
  EXPECT_NE(error_text(CallTool("load_model", {{"name", "x"}, {"path", "m.gguf"}})).find("taken"),
            std::string::npos);
  EXPECT_NE(error_text(CallTool("unload_model", {{"name", "nope"}})).find("does not exist"),
            std::string::npos);
  std::lock_guard lock(fake_.mu);
  EXPECT_EQ(changes_, (std::vector<std::string>{"+x"}));  // only what succeeded
}

TEST_F(ModelToolsTest, UnloadNotifiesAndForgets) {
  ASSERT_FALSE(CallTool("load_model", {{"name", "x"}, {"path", "m.gguf"}})["result"].value("isError", false));
  Json r = CallTool("unload_model", {{"name", "x"}});
  EXPECT_FALSE(r["result"].value("isError", false)) << r.dump();
  std::lock_guard lock(fake_.mu);
  EXPECT_TRUE(fake_.names.empty());
  EXPECT_EQ(changes_, (std::vector<std::string>{"+x", "-x"}));
}

TEST(ModelToolsOfferTest, NoManagerNoTools) {
  FakeModels fake;
  Catalog catalog;
  AddServingCatalog(catalog, fake, {});
  EXPECT_FALSE(catalog.FindTool("load_model").has_value());
  EXPECT_FALSE(catalog.FindTool("unload_model").has_value());
  EXPECT_TRUE(catalog.FindTool("chat").has_value());
}

}  // namespace
}  // namespace llmux::mcp
