// The defaults merge: values a request leaves out take the model's defaults, values it gives
// win; a chat without a system message gets the model's system prompt; the decorator applies
// them to every kind of submission and only for the model that has them.
#include "services/registry/model_defaults.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace llmux::registry {
namespace {

ModelParameters Defaults() {
  ModelParameters d;
  d.temperature = 0.5;
  d.top_p = 0.9;
  d.top_k = 40;
  d.min_p = 0.05;
  d.seed = 1234;
  d.max_tokens = 16;
  d.system_prompt = "Be brief.";
  d.context_length = 2048;  // not a request value: left alone
  return d;
}

serving::ChatRequest UserChat(const std::string& model, const std::string& text) {
  serving::ChatRequest r;
  r.model = model;
  chat::Message m;
  m.role = "user";
  m.content = text;
  r.messages.push_back(m);
  return r;
}

TEST(ApplyModelDefaultsTest, FillsWhatTheRequestLeavesOut) {
  serving::ChatRequest r = UserChat("m", "hi");
  ApplyModelDefaults(Defaults(), r);
  EXPECT_FLOAT_EQ(*r.options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(*r.options.sampling.top_p, 0.9f);
  EXPECT_EQ(*r.options.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(*r.options.sampling.min_p, 0.05f);
  EXPECT_EQ(*r.options.sampling.seed, 1234u);
  EXPECT_EQ(*r.options.max_tokens, 16);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "Be brief.");
  EXPECT_EQ(r.messages[1].content, "hi");
}

TEST(ApplyModelDefaultsTest, ExplicitRequestValuesWin) {
  serving::ChatRequest r = UserChat("m", "hi");
  r.options.sampling.temperature = 0.0f;  // explicit zero is a value, not "left out"
  r.options.sampling.seed = 0;
  r.options.max_tokens = 3;
  chat::Message system;
  system.role = "system";
  system.content = "Mine.";
  r.messages.insert(r.messages.begin() + 1, system);  // a system message anywhere counts
  ApplyModelDefaults(Defaults(), r);
  EXPECT_EQ(*r.options.sampling.temperature, 0.0f);
  EXPECT_EQ(*r.options.sampling.seed, 0u);
  EXPECT_EQ(*r.options.max_tokens, 3);
  EXPECT_EQ(*r.options.sampling.top_k, 40);  // still filled
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "Mine.");
}

TEST(ApplyModelDefaultsTest, EmptyDefaultsChangeNothing) {
  serving::ChatRequest r = UserChat("m", "hi");
  ApplyModelDefaults(ModelParameters{}, r);
  EXPECT_FALSE(r.options.sampling.temperature);
  EXPECT_FALSE(r.options.sampling.seed);
  EXPECT_FALSE(r.options.max_tokens);
  EXPECT_EQ(r.messages.size(), 1u);
}

// Records what reaches it.
class RecordingService final : public serving::InferenceService {
 public:
  std::vector<serving::ModelInfo> ListModels() const override { return {}; }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest request,
                                                       std::shared_ptr<serving::Sink>) override {
    chats.push_back(std::move(request));
    return UnavailableError("recorded");
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink>) override {
    completions.push_back(std::move(request));
    return UnavailableError("recorded");
  }
  // The "count" is the number of messages: a default system prompt adds one.
  Result<int> CountChatTokens(const serving::ChatRequest& request) const override {
    return static_cast<int>(request.messages.size());
  }
  void SubmitEmbed(serving::EmbedRequest request, Embedded done) override {
    embeds.push_back(std::move(request));
    done(serving::EmbedResult{{{1.0f}}, 3});
  }
  std::vector<serving::ChatRequest> chats;
  std::vector<serving::CompletionRequest> completions;
  std::vector<serving::EmbedRequest> embeds;
};

TEST(ModelDefaultsServiceTest, AppliesTheNamedModelsDefaultsOnEveryPath) {
  RecordingService inner;
  std::vector<std::string> asked;
  ModelDefaultsService service(inner,
                               [&](std::string_view model) -> std::optional<ModelParameters> {
                                 asked.emplace_back(model);
                                 if (model == "tuned" || model == "tuned:latest") return Defaults();
                                 return std::nullopt;
                               });
  (void)service.Chat(UserChat("tuned", "a"), nullptr);
  (void)service.Chat(UserChat("plain", "b"), nullptr);
  service.SubmitChat(UserChat("tuned:latest", "c"), nullptr, [](auto) {});
  serving::CompletionRequest c;
  c.model = "tuned";
  c.prompt = "once";
  (void)service.Complete(c, nullptr);
  service.SubmitComplete(c, nullptr, [](auto) {});

  ASSERT_EQ(inner.chats.size(), 3u);
  EXPECT_EQ(*inner.chats[0].options.max_tokens, 16);
  EXPECT_EQ(inner.chats[0].messages.size(), 2u);
  EXPECT_FALSE(inner.chats[1].options.max_tokens);
  EXPECT_EQ(inner.chats[1].messages.size(), 1u);
  EXPECT_EQ(*inner.chats[2].options.sampling.seed, 1234u);
  ASSERT_EQ(inner.completions.size(), 2u);
  for (const auto& done : inner.completions) {
    EXPECT_EQ(*done.options.max_tokens, 16);
    EXPECT_EQ(done.prompt, "once");  // no system prompt for a plain completion
  }
  EXPECT_EQ(asked.size(), 5u);
  // Counting a chat's tokens sees the same defaults (the system prompt) as running it.
  EXPECT_EQ(*service.CountChatTokens(UserChat("tuned", "d")), 2);
  EXPECT_EQ(*service.CountChatTokens(UserChat("plain", "e")), 1);
  // Embeddings reach the service behind, unchanged.
  serving::EmbedRequest e;
  e.model = "tuned";
  e.inputs.push_back({"text", {}});
  int prompt_tokens = 0;
  service.SubmitEmbed(e, [&](Result<serving::EmbedResult> r) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    prompt_tokens = r->prompt_tokens;
  });
  ASSERT_EQ(inner.embeds.size(), 1u);
  EXPECT_EQ(inner.embeds[0].inputs[0].text, "text");
  EXPECT_EQ(prompt_tokens, 3);
}

}  // namespace
}  // namespace llmux::registry
