// response_format json_object, and object schemas without declared properties, as requests
// make them (MakeRequestConstraint) on Qwen3's vocabulary. Outputs are checked with an
// independent JSON parser (nlohmann), token facts with the tokenizer alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/sampler.h"
#include "engine/tokenizer/test_vocab.h"
#include "engine/tokenizer/tokenizer.h"
#include "serving/grammar_cache.h"
#include "serving/request_constraints.h"
#include "tests/support/test_paths.h"

namespace llmux::serving {
namespace {

constexpr float kNegInf = -INFINITY;

std::unique_ptr<TokenConstraint> Make(std::shared_ptr<const ConstraintVocab> vocab,
                                      ResponseFormat format, const std::string& schema = "") {
  ChatRequest request;
  request.response_format = format;
  request.json_schema = schema;
  GrammarCache grammars;
  auto c = MakeRequestConstraint(std::move(vocab), chat::OutputFormat{}, request,
                                 /*use_tools=*/false, grammars);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

class JsonObjectConstraintTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto file = gguf::GgufFile::Open(testing::SharedPath("models/qwen3-vocab.gguf"));
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    auto tok = Tokenizer::FromGguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizer_ = std::move(tok).value().release();
    vocab_ = new std::shared_ptr<const ConstraintVocab>(ConstraintVocab::Build(*tokenizer_));
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      pieces_.push_back(tokenizer_->TokenToPiece(id));
      if (tokenizer_->IsEndOfGeneration(id)) eog_ids_.push_back(id);
    }
    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    random_logits_.resize(4);
    for (auto& v : random_logits_) {
      v.resize(tokenizer_->n_vocab());
      for (float& l : v) l = normal(rng);
    }
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete tokenizer_;
  }

  static std::unique_ptr<TokenConstraint> JsonObject() {
    return Make(*vocab_, ResponseFormat::kJsonObject);
  }
  static int32_t Id(std::string_view text) {
    const int32_t id = tokenizer_->FindToken(text);
    EXPECT_GE(id, 0) << text;
    return id;
  }
  static void Feed(TokenConstraint& c, std::string_view text) {
    for (int32_t id : tokenizer_->Encode(text, /*add_special=*/false, /*parse_special=*/false))
      c.Accept(id);
  }
  static std::vector<int32_t> Allowed(TokenConstraint& c) {
    std::vector<float> logits(tokenizer_->n_vocab(), 0.0f);
    c.Mask(logits);
    std::vector<int32_t> ids;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (logits[i] != kNegInf) ids.push_back(static_cast<int32_t>(i));
    }
    return ids;
  }

  // Samples with random logits (temperature 1) and the request's budget, as the engine does
  // (SetTokensLeft before each Mask). Returns the text; `ended` when end of generation came.
  static std::string Sample(TokenConstraint& c, uint32_t seed, int budget, bool& ended) {
    SamplerParams p = SamplerParams::Greedy();
    p.temperature = 1.0f;
    p.seed = seed;
    Sampler sampler(p);
    std::mt19937 rng(seed);
    const size_t n = tokenizer_->n_vocab();
    std::vector<float> logits(n);
    std::string text;
    ended = false;
    for (int used = 0; used < budget; ++used) {
      // A random rotation of one of a few random vectors: cheap, and random enough.
      const std::vector<float>& base = random_logits_[rng() % random_logits_.size()];
      const size_t shift = rng() % n;
      std::copy(base.begin() + shift, base.end(), logits.begin());
      std::copy(base.begin(), base.begin() + shift, logits.begin() + (n - shift));
      c.SetTokensLeft(budget - used);
      const int32_t id = sampler.Sample(logits, &c);
      c.Accept(id);
      sampler.Accept(id);
      if (tokenizer_->IsEndOfGeneration(id)) {
        ended = true;
        break;
      }
      text += pieces_[id];
    }
    return text;
  }

  static inline Tokenizer* tokenizer_ = nullptr;
  static inline std::shared_ptr<const ConstraintVocab>* vocab_ = nullptr;
  static inline std::vector<std::string> pieces_;
  static inline std::vector<int32_t> eog_ids_;
  static inline std::vector<std::vector<float>> random_logits_;
};

TEST_F(JsonObjectConstraintTest, StartsWithAnObjectOnly) {
  auto c = JsonObject();
  ASSERT_TRUE(c);
  const std::vector<int32_t> allowed = Allowed(*c);
  ASSERT_FALSE(allowed.empty());
  for (int32_t id : allowed) {
    ASSERT_FALSE(tokenizer_->IsSpecial(id)) << tokenizer_->TokenText(id);
    ASSERT_EQ(pieces_[id].substr(0, 1), "{") << pieces_[id];
  }
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), Id("{")) != allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), Id("{\"")) != allowed.end());
  EXPECT_FALSE(c->Complete());
}

TEST_F(JsonObjectConstraintTest, EndOfGenerationOnlyWhenComplete) {
  auto c = JsonObject();
  Feed(*c, R"({"a": [1, "x", {"b": null}], "c": -2.5e3)");
  EXPECT_FALSE(c->Complete());
  std::vector<int32_t> allowed = Allowed(*c);
  for (int32_t eog : eog_ids_) {
    EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), eog) == allowed.end());
  }
  Feed(*c, "}");
  EXPECT_TRUE(c->Complete());
  EXPECT_EQ(Allowed(*c), eog_ids_) << "nothing follows the object";
}

TEST_F(JsonObjectConstraintTest, ATokenOffTheLanguageFailsIt) {
  auto c = JsonObject();
  c->Accept(Id("Hello"));
  EXPECT_FALSE(c->Complete());
  EXPECT_EQ(Allowed(*c), eog_ids_);
  auto d = JsonObject();
  Feed(*d, R"({"a": ")");
  d->Accept(Id("<tool_call>"));  // a special token inside the JSON
  EXPECT_FALSE(d->Complete());
  EXPECT_EQ(Allowed(*d), eog_ids_);
}

// Random sampling gives an object that parses, and ends with end of generation within the
// request's max_tokens (the constraint steers towards the end as the budget runs out).
TEST_F(JsonObjectConstraintTest, RandomSamplingGivesAnObjectWithinTheBudget) {
  int members = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    auto c = JsonObject();
    bool ended = false;
    const std::string text = Sample(*c, seed, 40 + 30 * static_cast<int>(seed), ended);
    ASSERT_TRUE(ended) << "seed " << seed << ": " << text;
    EXPECT_TRUE(c->Complete());
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << text;
    EXPECT_TRUE(j.is_object()) << text;
    members += static_cast<int>(j.size());
  }
  EXPECT_GT(members, 0) << "not only empty objects";
}

// A map: no declared property, additionalProperties a schema. Every value follows it.
TEST_F(JsonObjectConstraintTest, MapValuesFollowTheirSchema) {
  int members = 0;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    auto c = Make(*vocab_, ResponseFormat::kJsonSchema,
                  R"({"type":"object","additionalProperties":{"type":"integer","minimum":0}})");
    ASSERT_TRUE(c);
    bool ended = false;
    const std::string text = Sample(*c, 100 + seed, 100, ended);
    ASSERT_TRUE(ended) << text;
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << text;
    for (const auto& [key, value] : j.items()) {
      EXPECT_TRUE(value.is_number_integer() && value.get<int64_t>() >= 0) << text;
      ++members;
    }
  }
  EXPECT_GT(members, 0);
}

// A vocabulary with no way on from some states (no ':' token): the constraint ends the text
// with end of generation instead of leaving nothing to sample.
TEST(JsonObjectConstraintSmallVocabTest, DeadEndAllowsOnlyEndOfGeneration) {
  tokenizer::VocabData data = tokenizer::testing::BpeVocab({"{", "\"", "a", "}", "<|end|>"}, {});
  data.token_types = {1, 1, 1, 1, 3};
  data.eos_id = 4;
  auto tok = tokenizer::testing::Build(std::move(data));
  ASSERT_NE(tok, nullptr);
  auto c = Make(ConstraintVocab::Build(*tok), ResponseFormat::kJsonObject);
  ASSERT_TRUE(c);
  std::vector<float> logits(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{0.0f, kNegInf, kNegInf, kNegInf, kNegInf}));
  c->Accept(0);  // {
  logits.assign(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{kNegInf, 0.0f, kNegInf, 0.0f, kNegInf}));
  c->Accept(1);  // {"
  c->Accept(2);  // {"a
  c->Accept(1);  // {"a"  -- needs ':', which this vocabulary lacks
  logits.assign(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{kNegInf, kNegInf, kNegInf, kNegInf, 0.0f}));
  EXPECT_FALSE(c->Complete());
  Sampler sampler(SamplerParams::Greedy());
  logits.assign(5, 1.0f);
  EXPECT_EQ(sampler.Sample(logits, c.get()), 4);
}

}  // namespace
}  // namespace llmux::serving
