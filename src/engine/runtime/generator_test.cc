// The generator's control flow with a scripted model and a hand-made SentencePiece vocab:
// stop at end-of-generation (or not), max tokens, and UTF-8 assembly of byte tokens.
#include "engine/runtime/generator.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace llmux {
namespace {

constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;
int32_t Byte(int b) { return 3 + b; }
constexpr int32_t kA = 259, kB = 260;

std::unique_ptr<Tokenizer> MakeTokenizer() {
  tokenizer::VocabData v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.token_types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    v.tokens.push_back(name);
    v.token_types.push_back(6);
  }
  v.tokens.push_back("a");
  v.tokens.push_back("b");
  v.token_types.push_back(1);
  v.token_types.push_back(1);
  v.bos_id = kBos;
  v.eos_id = kEos;
  v.unk_id = kUnk;
  auto t = Tokenizer::FromVocab(std::move(v));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Each Forward call makes script[call] the argmax; records the positions it was given.
class ScriptedModel : public Model {
 public:
  explicit ScriptedModel(std::vector<int32_t> script) : script_(std::move(script)) {
    config_.arch = "scripted";
    config_.n_vocab = 261;
  }
  const ModelConfig& config() const override { return config_; }
  Result<std::unique_ptr<KvCache>> NewCache(int n_ctx, DType) override {
    return KvCache::Create(KvCacheOptions{1, 1, 1, DType::kF32, n_ctx, 1, 1, 0});
  }
  Result<std::unique_ptr<KvCache>> NewPagedCache(DType, int, int, int) override {
    return UnimplementedError("scripted model");
  }
  Status ForwardBatch(KvCache&, std::span<const SequenceChunk>, float*) override {
    return UnimplementedError("scripted model");
  }
  Status Forward(KvCache& cache, std::span<const int32_t> tokens, int pos, float* logits,
                 bool) override {
    positions.push_back(pos);
    fed.insert(fed.end(), tokens.begin(), tokens.end());
    cache.set_n_past(pos + static_cast<int>(tokens.size()));
    const int32_t next = calls_ < script_.size() ? script_[calls_] : kA;
    ++calls_;
    for (int i = 0; i < config_.n_vocab; ++i) logits[i] = 0.0f;
    logits[next] = 10.0f;
    return Status::Ok();
  }
  uint64_t WeightBytes() const override { return 0; }
  int max_batch() const override { return 512; }
  int n_threads() const override { return 1; }

  std::vector<int> positions;
  std::vector<int32_t> fed;

 private:
  ModelConfig config_;
  std::vector<int32_t> script_;
  size_t calls_ = 0;
};

TEST(GeneratorTest, StreamsWholeCharactersAndStopsAtEndOfGeneration) {
  auto tok = MakeTokenizer();
  ASSERT_NE(tok, nullptr);
  // "a", then 你 (E4 BD A0) as three byte tokens, "b", </s>, more.
  ScriptedModel model({kA, Byte(0xE4), Byte(0xBD), Byte(0xA0), kB, kEos, kA, kA});
  Generator gen(model, *tok);
  GenerateOptions opt;
  opt.max_tokens = 20;
  std::vector<std::string> chunks;
  auto r = gen.GenerateFromIds({kBos, kA}, SamplerParams::Greedy(), opt, [&](std::string_view s) {
    chunks.emplace_back(s);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stop, StopReason::kEndOfGeneration);
  EXPECT_EQ(r->generated_ids,
            (std::vector<int32_t>{kA, Byte(0xE4), Byte(0xBD), Byte(0xA0), kB, kEos}));
  EXPECT_EQ(chunks, (std::vector<std::string>{"a", "\xE4\xBD\xA0", "b"}));
  EXPECT_EQ(r->text,
            "a\xE4\xBD\xA0"
            "b");
  // Prefill at 0 with both prompt tokens, then one token per step at increasing positions.
  EXPECT_EQ(model.positions, (std::vector<int>{0, 2, 3, 4, 5, 6}));
  EXPECT_EQ(model.fed,
            (std::vector<int32_t>{kBos, kA, kA, Byte(0xE4), Byte(0xBD), Byte(0xA0), kB}));
  EXPECT_EQ(r->decode_steps, 5);
}

TEST(GeneratorTest, IgnoreEogRunsToMaxTokens) {
  auto tok = MakeTokenizer();
  ASSERT_NE(tok, nullptr);
  ScriptedModel model({kEos, kB, kEos});
  Generator gen(model, *tok);
  GenerateOptions opt;
  opt.max_tokens = 4;
  opt.ignore_eog = true;
  auto r = gen.GenerateFromIds({kBos}, SamplerParams::Greedy(), opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, StopReason::kMaxTokens);
  EXPECT_EQ(r->generated_ids, (std::vector<int32_t>{kEos, kB, kEos, kA}));
}

TEST(GeneratorTest, FlushesAnUnfinishedCharacterAtTheEnd) {
  auto tok = MakeTokenizer();
  ASSERT_NE(tok, nullptr);
  ScriptedModel model({kA, Byte(0xE4), Byte(0xBD)});
  Generator gen(model, *tok);
  GenerateOptions opt;
  opt.max_tokens = 3;
  auto r = gen.GenerateFromIds({kBos}, SamplerParams::Greedy(), opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "a\xE4\xBD");
}

TEST(GeneratorTest, RefusesEmptyPromptAndOverlongPrompt) {
  auto tok = MakeTokenizer();
  ASSERT_NE(tok, nullptr);
  ScriptedModel model({});
  Generator gen(model, *tok);
  GenerateOptions opt;
  EXPECT_EQ(gen.GenerateFromIds({}, SamplerParams::Greedy(), opt).status().code(),
            StatusCode::kInvalidArgument);
  opt.n_ctx = 2;
  EXPECT_EQ(gen.GenerateFromIds({kBos, kA, kB}, SamplerParams::Greedy(), opt).status().code(),
            StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace llmux
