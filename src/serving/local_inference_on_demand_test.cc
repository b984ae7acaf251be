// Load settings and on-demand loads of LocalInferenceService over the real stories260K model:
// the settings a lookup gives reach the loaded engine (context, KV type and budget, chat
// template, max running) for that model only; a request for a model that is not loaded but has a
// file loads it and goes on; a file that fails answers kUnavailable with the reason; an idle
// unloaded model comes back on the next request; the wait is bounded per caller. Embeddings,
// tokenize, detokenize and counting load on demand as generations do.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "serving/local_inference_service.h"
#include "serving/model_load_settings.h"
#include "tests/support/test_paths.h"

namespace llmux::serving {
namespace {

const std::string kStories = llmux::testing::SharedPath("models/stories260K.gguf");

class CollectSink : public Sink {
 public:
  void OnDelta(const Delta& d) override { content += d.content; }
  void OnFinish(const Finish& f) override { done.set_value(f); }
  std::string content;
  std::promise<Finish> done;
};

CompletionRequest Greedy(const std::string& model, int max_tokens) {
  CompletionRequest r;
  r.model = model;
  r.prompt = "Once upon a time";
  r.options.sampling.temperature = 0.0f;
  r.options.max_tokens = max_tokens;
  return r;
}

// Submits and waits for the submission's answer and, when accepted, the finish.
struct Outcome {
  Status submitted;
  Finish finish;
  std::string content;
};
Outcome Submit(LocalInferenceService& service, CompletionRequest r) {
  auto sink = std::make_shared<CollectSink>();
  std::promise<Status> submitted;
  service.SubmitComplete(std::move(r), sink, [&](Result<std::shared_ptr<RequestHandle>> h) {
    submitted.set_value(h.status());
  });
  Outcome out;
  out.submitted = submitted.get_future().get();
  if (out.submitted.ok()) {
    out.finish = sink->done.get_future().get();
    out.content = sink->content;
  }
  return out;
}

ModelHostOptions Options() {
  ModelHostOptions o;
  o.n_threads = 1;
  return o;
}

// A copy: the list ModelStatuses() returns is a temporary.
std::optional<ModelStatus> StatusOf(const std::vector<ModelStatus>& all, const std::string& name) {
  for (const ModelStatus& s : all) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

TEST(LoadSettings, ReplaceOnlyWhatTheyGive) {
  ModelHostOptions base = Options();
  base.engine.n_ctx = 2048;
  base.engine.kv_cache_bytes = 123;
  ModelLoadSettings s;
  s.n_ctx = 64;
  s.max_running = 3;
  const ModelHostOptions o = WithLoadSettings(base, s);
  EXPECT_EQ(o.engine.n_ctx, 64);
  EXPECT_EQ(o.engine.scheduler.max_running, 3);
  EXPECT_EQ(o.engine.kv_cache_bytes, 123);
  EXPECT_EQ(o.engine.kv_type, base.engine.kv_type);
  EXPECT_EQ(o.n_threads, 1);
}

TEST(LoadSettings, TheLoadedModelCarriesThemAndTheOtherModelDoesNot) {
  ModelHostOptions options = Options();
  LocalInferenceService service({ModelSpec{"tuned", kStories}, ModelSpec{"plain", kStories}},
                                options, LocalInferenceService::Deferred{});
  ModelLoadSettings tuned;
  tuned.n_ctx = 64;
  tuned.kv_type = DType::kF32;
  tuned.kv_cache_bytes = 64 * 1024 * 1024;
  tuned.chat_template = "{% for m in messages %}<<{{ m.content }}>>{% endfor %}";
  service.Start([&](const std::string& name) -> std::optional<ModelLoadSettings> {
    if (name == "tuned") return tuned;
    return std::nullopt;
  });
  ASSERT_TRUE(service.WaitLoaded().ok());
  std::map<std::string, int> ctx;
  for (const ModelInfo& m : service.ListModels()) ctx[m.id] = m.context_length;
  EXPECT_EQ(ctx["tuned"], 64);
  EXPECT_EQ(ctx["plain"], 512);  // the file's training context, below the 4096 default
  const auto statuses = service.ModelStatuses();
  ASSERT_NE(StatusOf(statuses, "tuned"), std::nullopt);
  ASSERT_NE(StatusOf(statuses, "plain"), std::nullopt);
  // F32 entries are twice F16's; both caches hold whole contexts only, so compare per token.
  EXPECT_NE(StatusOf(statuses, "tuned")->kv_bytes, StatusOf(statuses, "plain")->kv_bytes);

  // The override renders the prompt: its tokens are those of the text it writes.
  ChatRequest chat;
  chat.model = "tuned";
  chat.messages.push_back(chat::Message{});
  chat.messages[0].role = "user";
  chat.messages[0].content = "hello there";
  auto counted = service.CountChatTokens(chat);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  // (A Jinja template writes BOS itself where it wants one: this one does not.)
  auto expected = service.Tokenize("tuned", "<<hello there>>", /*add_special=*/false);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(*counted, static_cast<int>(expected->size()));
  chat.model = "plain";
  auto plain = service.CountChatTokens(chat);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(*plain, *counted);

  // A prompt longer than the registry's context is refused on that model only.
  CompletionRequest longer = Greedy("tuned", 4);
  longer.prompt.clear();
  for (int i = 0; i < 80; ++i) longer.prompt += " the";
  Outcome refused = Submit(service, longer);
  EXPECT_EQ(refused.submitted.code(), StatusCode::kInvalidArgument) << refused.submitted.ToString();
  longer.model = "plain";
  EXPECT_TRUE(Submit(service, longer).submitted.ok());
}

TEST(OnDemand, ARequestLoadsAModelWithAFileAndGoesOn) {
  LocalInferenceService service({ModelSpec{"stories", kStories}}, Options(),
                                LocalInferenceService::Deferred{});
  std::mutex mu;
  int lookups = 0;
  service.Start([&](const std::string& name) -> std::optional<ModelLoadSettings> {
    std::lock_guard<std::mutex> lock(mu);
    ++lookups;
    ModelLoadSettings s;
    if (name == "registered") s.path = kStories;
    if (name == "broken") s.path = "/nonexistent/broken.gguf";
    if (name == "registered" || name == "broken") return s;
    return std::nullopt;
  });
  ASSERT_TRUE(service.WaitLoaded().ok());
  EXPECT_EQ(StatusOf(service.ModelStatuses(), "registered"), std::nullopt);

  // Several requests at once: one load, all answered on the loaded model.
  std::vector<std::future<Outcome>> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(
        std::async(std::launch::async, [&] { return Submit(service, Greedy("registered", 8)); }));
  }
  const Outcome alone = Submit(service, Greedy("stories", 8));
  ASSERT_TRUE(alone.submitted.ok());
  for (auto& r : runs) {
    Outcome o = r.get();
    ASSERT_TRUE(o.submitted.ok()) << o.submitted.ToString();
    EXPECT_EQ(o.finish.reason, FinishReason::kLength);
    EXPECT_EQ(o.content, alone.content);  // the same file, greedy
  }
  const std::optional<ModelStatus> loaded = StatusOf(service.ModelStatuses(), "registered");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_FALSE(loaded->pinned);

  // A file that cannot load: 503 with the reason, and the failure is listed.
  Outcome broken = Submit(service, Greedy("broken", 4));
  EXPECT_EQ(broken.submitted.code(), StatusCode::kUnavailable);
  EXPECT_NE(broken.submitted.message().find("broken.gguf"), std::string::npos)
      << broken.submitted.ToString();
  const std::optional<ModelStatus> failed = StatusOf(service.ModelStatuses(), "broken");
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->state, ModelState::kFailed);

  // Neither loaded nor known: not found, as before.
  EXPECT_EQ(Submit(service, Greedy("nope", 4)).submitted.code(), StatusCode::kNotFound);

  // An explicit unload forgets what a name served; the registry's file loads it again.
  ASSERT_TRUE(service.UnloadModel("registered").ok());
  EXPECT_TRUE(Submit(service, Greedy("registered", 4)).submitted.ok());
}

// Waits for a Submit* call's one answer.
template <typename T, typename Start>
T Answer(Start start) {
  std::promise<T> p;
  start([&p](T value) { p.set_value(std::move(value)); });
  return p.get_future().get();
}

Result<std::vector<int32_t>> TokenizeOnDemand(LocalInferenceService& s, const std::string& model,
                                              const std::string& text) {
  return Answer<Result<std::vector<int32_t>>>([&](InferenceService::Tokenized done) {
    s.SubmitTokenize(model, text, /*add_special=*/true, "user:1", std::move(done));
  });
}

Result<EmbedResult> EmbedOnDemand(LocalInferenceService& s, const std::string& model) {
  EmbedRequest r;
  r.model = model;
  r.inputs = {EmbedInput{"Once upon a time", {}}, EmbedInput{"there was a cat", {}}};
  r.caller_share = "user:1";
  return Answer<Result<EmbedResult>>(
      [&](InferenceService::Embedded done) { s.SubmitEmbed(r, std::move(done)); });
}

ChatRequest UserChat(const std::string& model) {
  ChatRequest c;
  c.model = model;
  c.messages.push_back(chat::Message{});
  c.messages[0].role = "user";
  c.messages[0].content = "Tell me a story";
  return c;
}

// Tokenize, detokenize, counting and embeddings name a model as generations do: each loads a
// registered model that is not loaded, and gives what the same file gives when loaded.
TEST(OnDemand, TokenizeDetokenizeCountAndEmbedLoadTheModel) {
  LocalInferenceService service({ModelSpec{"stories", kStories}}, Options(),
                                LocalInferenceService::Deferred{});
  service.Start([&](const std::string& name) -> std::optional<ModelLoadSettings> {
    if (name != "registered") return std::nullopt;
    ModelLoadSettings s;
    s.path = kStories;
    return s;
  });
  ASSERT_TRUE(service.WaitLoaded().ok());
  auto loaded = [&] { return StatusOf(service.ModelStatuses(), "registered").has_value(); };
  // The reference: the same file, loaded under another name.
  auto want_ids = service.Tokenize("stories", "Once upon a time", /*add_special=*/true);
  ASSERT_TRUE(want_ids.ok());
  ASSERT_GT(want_ids->size(), 2u);
  auto want_text = service.Detokenize("stories", *want_ids);
  ASSERT_TRUE(want_text.ok());
  auto want_count = service.CountChatTokens(UserChat("stories"));
  ASSERT_TRUE(want_count.ok());
  auto want_vectors = EmbedOnDemand(service, "stories");
  ASSERT_TRUE(want_vectors.ok()) << want_vectors.status().ToString();

  // The synchronous lookups alone do not load: the model is not found.
  EXPECT_EQ(service.Tokenize("registered", "x", true).status().code(), StatusCode::kNotFound);
  ASSERT_FALSE(loaded());

  auto ids = TokenizeOnDemand(service, "registered", "Once upon a time");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, *want_ids);
  EXPECT_TRUE(loaded());

  ASSERT_TRUE(service.UnloadModel("registered").ok());
  ASSERT_FALSE(loaded());
  auto text = Answer<Result<std::string>>([&](InferenceService::Detokenized done) {
    service.SubmitDetokenize("registered", *want_ids, "user:1", std::move(done));
  });
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, *want_text);
  EXPECT_TRUE(loaded());

  ASSERT_TRUE(service.UnloadModel("registered").ok());
  auto count = Answer<Result<int>>([&](InferenceService::Counted done) {
    service.SubmitCountChatTokens(UserChat("registered"), std::move(done));
  });
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, *want_count);

  ASSERT_TRUE(service.UnloadModel("registered").ok());
  auto vectors = EmbedOnDemand(service, "registered");
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  // The same file: the same vectors, up to the rounding of rows batched differently.
  ASSERT_EQ(vectors->embeddings.size(), want_vectors->embeddings.size());
  for (size_t i = 0; i < vectors->embeddings.size(); ++i) {
    ASSERT_EQ(vectors->embeddings[i].size(), want_vectors->embeddings[i].size());
    for (size_t j = 0; j < vectors->embeddings[i].size(); ++j) {
      EXPECT_NEAR(vectors->embeddings[i][j], want_vectors->embeddings[i][j], 1e-5) << i << ":" << j;
    }
  }
  EXPECT_EQ(vectors->prompt_tokens, want_vectors->prompt_tokens);
  EXPECT_TRUE(loaded());

  // Bad input starts no load; an unknown model is still not found.
  ASSERT_TRUE(service.UnloadModel("registered").ok());
  EmbedRequest none;
  none.model = "registered";
  auto refused = Answer<Result<EmbedResult>>(
      [&](InferenceService::Embedded done) { service.SubmitEmbed(none, std::move(done)); });
  EXPECT_EQ(refused.status().field(), "input");
  EXPECT_FALSE(loaded());
  EXPECT_EQ(TokenizeOnDemand(service, "nope", "x").status().code(), StatusCode::kNotFound);
}

TEST(OnDemand, AnIdleUnloadedModelComesBackOnTheNextRequest) {
  ModelHostOptions options = Options();
  LocalInferenceService service({ModelSpec{"stories", kStories}}, options);
  ASSERT_TRUE(service.WaitLoaded().ok());
  ModelSpec brief{"brief", kStories};
  brief.keep_alive_s = 0;  // unloaded as soon as it is idle
  ASSERT_TRUE(service.LoadModel(brief).ok());
  for (int i = 0; i < 200 && StatusOf(service.ModelStatuses(), "brief").has_value(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(StatusOf(service.ModelStatuses(), "brief"), std::nullopt);
  Outcome again = Submit(service, Greedy("brief", 4));
  ASSERT_TRUE(again.submitted.ok()) << again.submitted.ToString();
  EXPECT_EQ(again.finish.reason, FinishReason::kLength);

  // Unloaded again once idle: embeddings and tokenize bring it back too.
  auto gone = [&] {
    for (int i = 0; i < 200 && StatusOf(service.ModelStatuses(), "brief").has_value(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !StatusOf(service.ModelStatuses(), "brief").has_value();
  };
  ASSERT_TRUE(gone());
  auto vectors = EmbedOnDemand(service, "brief");
  ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
  EXPECT_EQ(vectors->embeddings.size(), 2u);
  ASSERT_TRUE(gone());
  auto ids = TokenizeOnDemand(service, "brief", "Once upon a time");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(*ids, *service.Tokenize("stories", "Once upon a time", true));
}

TEST(OnDemand, TheWaitIsBoundedPerCallerAndInTime) {
  ModelHostOptions options = Options();
  options.max_waiting_per_caller = 1;
  options.lifecycle.load_wait_s = 0.3;
  LocalInferenceService service({}, options, LocalInferenceService::Deferred{});
  // The loader reads the settings too (the second lookup): held there, the load cannot end
  // until the test lets it.
  std::mutex mu;
  int calls = 0;
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  // Lets the load end however the test ends (a failed assertion too), before the service waits
  // for its loader in its destructor.
  struct Releaser {
    std::shared_ptr<std::promise<void>> p;
    ~Releaser() {
      try {
        p->set_value();
      } catch (const std::future_error&) {  // released already
      }
    }
  } releaser{release};
  service.Start([&mu, &calls, released](const std::string&) -> std::optional<ModelLoadSettings> {
    bool hold;
    {
      std::lock_guard<std::mutex> lock(mu);
      hold = ++calls == 2;
    }
    if (hold) released.wait();
    ModelLoadSettings s;
    s.path = kStories;
    return s;
  });
  ASSERT_TRUE(service.WaitLoaded().ok());
  auto submit = [&](const std::string& caller) {
    CompletionRequest r = Greedy("slow", 4);
    r.options.caller_share = caller;
    auto answer = std::make_shared<std::promise<Status>>();
    service.SubmitComplete(
        r, std::make_shared<CollectSink>(),
        [answer](Result<std::shared_ptr<RequestHandle>> h) { answer->set_value(h.status()); });
    return answer->get_future();
  };
  auto first = submit("user:1");
  auto over = submit("user:1");  // the same caller while its first waits: over its share
  ASSERT_EQ(over.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Status refused = over.get();
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  // Tokenize waits in the same queue: the same caller is over its share there too.
  auto tokenize_over = Answer<Result<std::vector<int32_t>>>([&](InferenceService::Tokenized done) {
    service.SubmitTokenize("slow", "x", true, "user:1", std::move(done));
  });
  EXPECT_EQ(tokenize_over.status().code(), StatusCode::kResourceExhausted)
      << tokenize_over.status().ToString();
  auto other = submit("user:2");  // another caller has its own share
  // Neither wait outlasts load_wait_s: 503 while the load goes on.
  for (auto* f : {&first, &other}) {
    ASSERT_EQ(f->wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const Status s = f->get();
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find("still loading"), std::string::npos) << s.ToString();
  }
  const std::optional<ModelStatus> loading =
      StatusOf(service.ModelStatuses(), "slow");  // held in its settings
  ASSERT_TRUE(loading.has_value());
  EXPECT_EQ(loading->state, ModelState::kLoading);
  release->set_value();
  for (int i = 0; i < 500; ++i) {  // loading, then loaded
    const std::optional<ModelStatus> st = StatusOf(service.ModelStatuses(), "slow");
    if (st && st->state != ModelState::kLoading) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(Submit(service, Greedy("slow", 4)).submitted.ok());
}

}  // namespace
}  // namespace llmux::serving
