// Embedding requests through the engine on qwen3-mini-f32. The reference is llama.cpp: the
// output matrix is a linear map, so W_out . (last token's normed hidden state) must equal
// llama.cpp's full final-position logits (vectors/logits/*.f32). Mean pooling is then checked
// through causality: the hidden state of position i is the last-token embedding of the prefix
// [0, i], so the mean over a prompt equals the mean of its prefixes' last-token embeddings.
#include <future>

#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "test_support.h"

namespace llmux::testing {
namespace {

struct Served {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;
};

Served Serve(EngineOptions options = {}) {
  Served s;
  s.file = OpenShared("models/qwen3-mini-f32.gguf");
  EXPECT_NE(s.file, nullptr);
  auto tok = Tokenizer::FromGguf(*s.file);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  s.tokenizer = std::move(tok).value();
  auto model = Model::Load(s.file, 2);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  options.kv_type = DType::kF32;
  s.engine = std::make_unique<Engine>(std::move(model).value(), *s.tokenizer, options);
  return s;
}

std::future<EngineFinish> Submit(Engine& engine, std::vector<int32_t> prompt,
                                 EmbeddingPooling pooling) {
  auto done = std::make_shared<std::promise<EngineFinish>>();
  std::future<EngineFinish> f = done->get_future();
  EngineRequest r;
  r.prompt = std::move(prompt);
  r.embed = pooling;
  EngineCallbacks cb;
  cb.on_token = [](const TokenOutput&) {
    ADD_FAILURE() << "an embedding request generated a token";
    return true;
  };
  cb.on_finish = [done](const EngineFinish& fin) { done->set_value(fin); };
  auto ticket = engine.Submit(std::move(r), std::move(cb));
  EXPECT_TRUE(ticket.ok()) << ticket.status().ToString();
  if (!ticket.ok()) done->set_value(EngineFinish{});
  return f;
}

std::vector<float> Embed(Engine& engine, std::vector<int32_t> prompt, EmbeddingPooling pooling) {
  EngineFinish fin = Submit(engine, std::move(prompt), pooling).get();
  EXPECT_TRUE(fin.error.ok()) << fin.error.ToString();
  EXPECT_EQ(fin.completion_tokens, 0);
  return fin.embedding;
}

// The output matrix (untied output.weight, else token_embd) as F32 rows, read straight from
// the file.
std::vector<float> OutputMatrix(const gguf::GgufFile& file, int64_t* rows, int64_t* cols) {
  const gguf::TensorInfo* t = file.FindTensor("output.weight");
  if (t == nullptr) t = file.FindTensor("token_embd.weight");
  EXPECT_NE(t, nullptr);
  EXPECT_EQ(t->type, DType::kF32);
  *cols = t->ne[0];
  *rows = t->ne[1];
  std::vector<float> w(static_cast<size_t>(*rows * *cols));
  std::memcpy(w.data(), t->data, w.size() * sizeof(float));
  return w;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  }
  return worst;
}

TEST(Embeddings, LastTokenPoolingTimesOutputMatrixIsLlamaCppsLogits) {
  Served s = Serve();
  int64_t rows = 0, cols = 0;
  const std::vector<float> w = OutputMatrix(*s.file, &rows, &cols);
  const auto ref = LoadJson("vectors/qwen3-mini-f32.json");
  ASSERT_EQ(ref["prompts"].size(), 5u);
  for (const auto& p : ref["prompts"]) {
    const auto prompt = p["prompt_ids"].get<std::vector<int32_t>>();
    const std::vector<float> e = Embed(*s.engine, prompt, EmbeddingPooling::kLast);
    ASSERT_EQ(static_cast<int64_t>(e.size()), cols);
    std::vector<float> logits(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += static_cast<double>(w[r * cols + c]) * e[c];
      logits[r] = static_cast<float>(sum);
    }
    const auto want = LoadF32File(
        "vectors/" + p["final_position_full_logits_precise"]["file"].get<std::string>());
    EXPECT_LE(MaxAbsDiff(logits, want), 1e-4) << p["name"];
  }
}

TEST(Embeddings, MeanPoolingIsTheMeanOfThePrefixesLastTokenEmbeddings) {
  Served s = Serve();
  const std::vector<int32_t> prompt =
      s.tokenizer->Encode("The quick brown fox jumps over it.", false, false);
  ASSERT_GE(prompt.size(), 5u);
  std::vector<double> sum;
  for (size_t i = 1; i <= prompt.size(); ++i) {
    const std::vector<float> e =
        Embed(*s.engine, {prompt.begin(), prompt.begin() + i}, EmbeddingPooling::kLast);
    sum.resize(e.size(), 0.0);
    for (size_t k = 0; k < e.size(); ++k) sum[k] += e[k];
  }
  std::vector<float> want(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) want[k] = static_cast<float>(sum[k] / prompt.size());
  const std::vector<float> got = Embed(*s.engine, prompt, EmbeddingPooling::kMean);
  EXPECT_LE(MaxAbsDiff(got, want), 1e-4);
  // Not the last token's embedding: pooling changed something.
  EXPECT_GT(MaxAbsDiff(got, Embed(*s.engine, prompt, EmbeddingPooling::kLast)), 1e-3);
}

TEST(Embeddings, BatchedWithGenerationAndChunkedEqualsSolo) {
  const std::string text(
      "Continuous batching runs many sequences in one forward pass; each row must come out "
      "the same as if it ran alone.");
  Served solo = Serve();
  const std::vector<int32_t> prompt = solo.tokenizer->Encode(text, false, false);
  const std::vector<float> want_mean = Embed(*solo.engine, prompt, EmbeddingPooling::kMean);
  const std::vector<float> want_last = Embed(*solo.engine, prompt, EmbeddingPooling::kLast);

  // A small step budget splits the prompt into chunks, beside a generating request; the
  // generated prefix also lands in the prefix cache, which mean pooling must not reuse.
  EngineOptions small;
  small.scheduler.max_batch_tokens = 8;
  Served s = Serve(small);
  EngineRequest gen;
  gen.prompt = prompt;
  gen.max_tokens = 8;
  std::promise<void> gen_done;
  EngineCallbacks cb;
  cb.on_token = [](const TokenOutput&) { return true; };
  cb.on_finish = [&gen_done](const EngineFinish&) { gen_done.set_value(); };
  ASSERT_TRUE(s.engine->Submit(std::move(gen), std::move(cb)).ok());
  auto mean = Submit(*s.engine, prompt, EmbeddingPooling::kMean);
  auto last = Submit(*s.engine, prompt, EmbeddingPooling::kLast);
  gen_done.get_future().get();
  const EngineFinish mean_fin = mean.get();
  EXPECT_EQ(mean_fin.cached_tokens, 0);
  EXPECT_LE(MaxAbsDiff(mean_fin.embedding, want_mean), 1e-5);
  EXPECT_LE(MaxAbsDiff(last.get().embedding, want_last), 1e-5);
  // Again, after the prompt's blocks are cached: last pooling may reuse them, mean may not.
  const EngineFinish again = Submit(*s.engine, prompt, EmbeddingPooling::kMean).get();
  EXPECT_EQ(again.cached_tokens, 0);
  EXPECT_LE(MaxAbsDiff(again.embedding, want_mean), 1e-5);
}

TEST(Embeddings, AnInputMayFillTheContextButNotMore) {
  EngineOptions options;
  options.n_ctx = 64;
  Served s = Serve(options);
  std::vector<int32_t> full(64, 100);
  EXPECT_EQ(Embed(*s.engine, full, EmbeddingPooling::kMean).size(),
            static_cast<size_t>(s.engine->model().config().n_embd));
  EngineRequest over;
  over.prompt.assign(65, 100);
  over.embed = EmbeddingPooling::kMean;
  auto refused = s.engine->Submit(std::move(over), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EngineRequest resumed;
  resumed.prompt = {1, 2};
  resumed.resume = {3};
  resumed.embed = EmbeddingPooling::kLast;
  EXPECT_FALSE(s.engine->Submit(std::move(resumed), {}).ok());
}

}  // namespace
}  // namespace llmux::testing
