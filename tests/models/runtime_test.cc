// Loading errors on the shared files, text generation and perplexity with real tokenizers.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/gguf/gguf_writer.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/perplexity.h"
#include "engine/runtime/utf8_stream.h"
#include "engine/tokenizer/tokenizer.h"
#include "test_support.h"

namespace llmux::testing {
namespace {

std::string ReadText(const std::string& rel) {
  std::ifstream in(SharedPath(rel), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Loaded {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded LoadWithTokenizer(const std::string& rel, int n_threads = 1) {
  Loaded l;
  l.file = OpenShared(rel);
  if (!l.file) return l;
  auto m = Model::Load(l.file, n_threads);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (m.ok()) l.model = std::move(m).value();
  auto t = Tokenizer::FromGguf(*l.file);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (t.ok()) l.tokenizer = std::move(t).value();
  return l;
}

TEST(ModelLoadErrors, VocabOnlyFileIsRefused) {
  auto file = OpenShared("models/qwen3-vocab.gguf");
  ASSERT_NE(file, nullptr);
  auto m = Model::Load(file, 2);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing tensor 'token_embd.weight'"), std::string::npos)
      << m.status().ToString();
}

TEST(ModelLoadErrors, UnsupportedArchitecturesAreNamed) {
  for (const char* rel : {"models/qwen3moe-mini-q8_0.gguf", "models/deepseek3-mini-q8_0.gguf"}) {
    auto file = OpenShared(rel);
    ASSERT_NE(file, nullptr);
    auto m = Model::Load(file, 2);
    ASSERT_FALSE(m.ok()) << rel;
    EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(m.status().message().find("unsupported architecture '"), std::string::npos)
        << m.status().ToString();
  }
}

TEST(ModelLoadErrors, CopyWithAMisShapedTensorIsRefused) {
  // stories260K with blk.3.attn_v.weight cut to half its rows.
  auto src = OpenShared("models/stories260K.gguf");
  ASSERT_NE(src, nullptr);
  gguf::GgufWriter w;
  for (const auto& kv : src->metadata()) w.CopyValue(kv.key, kv.value);
  for (const auto& t : src->tensors()) {
    if (t.name == "blk.3.attn_v.weight") {
      w.AddTensor(t.name, t.type, {t.ne[0], t.ne[1] / 2}, t.data, t.nbytes / 2);
    } else {
      w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
    }
  }
  const std::string path = ::testing::TempDir() + "/llmux_stories_bad_shape.gguf";
  ASSERT_TRUE(w.Write(path).ok());
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto m = Model::Load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), 2);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("tensor 'blk.3.attn_v.weight' has shape {64, 16}, "
                                      "expected {64, 32}"),
            std::string::npos)
      << m.status().ToString();
}

TEST(Generator, Stories260KGreedyStory) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf", /*n_threads=*/2);
  ASSERT_TRUE(l.model && l.tokenizer);
  const auto ref = LoadJson("vectors/stories260K.json");
  Generator gen(*l.model, *l.tokenizer);
  for (const auto& p : ref["prompts"]) {
    GenerateOptions opt;
    opt.max_tokens = 64;
    opt.ignore_eog = true;
    std::string streamed;
    int pieces = 0;
    auto r = gen.Generate(p["text"].get<std::string>(), SamplerParams::Greedy(), opt,
                          [&](std::string_view s) {
                            streamed += s;
                            ++pieces;
                            return true;
                          });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->prompt_ids, p["prompt_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(r->generated_ids,
              p["llama_cpp"]["precise"]["generated_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(streamed, r->text);
    EXPECT_GT(pieces, 10);
    EXPECT_EQ(r->stop, StopReason::kMaxTokens);
    EXPECT_EQ(r->decode_steps, 63);
    EXPECT_GT(r->decode_tokens_per_second(), 0.0);
    if (p["name"] == "s0_once") {
      const std::string story = p["text"].get<std::string>() + r->text;
      EXPECT_EQ(story.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u)
          << story;
      std::printf("%s\n", story.c_str());
    }
  }
}

TEST(Generator, StopsOnCallbackAndFullContext) {
  // (Stopping at end-of-generation tokens is covered by runtime/generator_test.cc: the
  // stories model ends its stories with BOS, which is no end-of-generation token.)
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  GenerateOptions opt;
  opt.max_tokens = 400;
  int calls = 0;
  auto stopped = gen.Generate("Once upon a time", SamplerParams::Greedy(), opt,
                              [&](std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->stop, StopReason::kCallback);
  EXPECT_EQ(calls, 3);

  GenerateOptions small = opt;
  small.n_ctx = 10;
  auto full = gen.Generate("Once upon a time", SamplerParams::Greedy(), small);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->stop, StopReason::kContextFull);
  EXPECT_EQ(full->prompt_ids.size() + full->generated_ids.size(), 11u);
}

TEST(Generator, SeededSamplingIsReproducible) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  SamplerParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 40;
  sp.top_p = 0.95f;
  sp.seed = 7;
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.ignore_eog = true;
  auto a = gen.Generate("Lily and Tom", sp, opt);
  auto b = gen.Generate("Lily and Tom", sp, opt);
  sp.seed = 8;
  auto c = gen.Generate("Lily and Tom", sp, opt);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->generated_ids, b->generated_ids);
  EXPECT_NE(a->generated_ids, c->generated_ids);
  EXPECT_NE(
      a->generated_ids,
      std::vector<int32_t>(
          LoadJson(
              "vectors/stories260K.json")["prompts"][1]["llama_cpp"]["precise"]["generated_ids"]
              .get<std::vector<int32_t>>()));
}

TEST(Generator, StreamsWholeUtf8Characters) {
  Loaded l = LoadWithTokenizer("models/qwen3-mini-f32.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  GenerateOptions opt;
  opt.max_tokens = 32;
  opt.ignore_eog = true;
  std::vector<std::string> chunks;
  auto r =
      gen.Generate("你好，请介绍一下你自己", SamplerParams::Greedy(), opt, [&](std::string_view s) {
        chunks.emplace_back(s);
        return true;
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto ref = LoadJson("vectors/qwen3-mini-f32.json");
  EXPECT_EQ(r->prompt_ids, ref["prompts"][2]["prompt_ids"].get<std::vector<int32_t>>());
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_EQ(CompleteUtf8Prefix(c), c.size());
    joined += c;
  }
  EXPECT_EQ(joined, l.tokenizer->Decode(r->generated_ids));
}

TEST(Perplexity, Stories260KMatchesLlamaCpp) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  int progress_calls = 0;
  auto r = ComputePerplexity(*l.model, *l.tokenizer, ReadText("texts/story.txt"), 128,
                             [&](int, double) { ++progress_calls; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(progress_calls, r->n_chunks);
  EXPECT_EQ(static_cast<int>(r->running.size()), r->n_chunks);
  EXPECT_EQ(r->n_scored, static_cast<int64_t>(r->n_chunks) * 63);
  EXPECT_NEAR(r->ppl, 3.9594, 3.9594 * 0.005);
  EXPECT_DOUBLE_EQ(r->running.back(), r->ppl);
  std::printf(
      "stories260K story.txt ctx 128: %d tokens, %d chunks, PPL %.4f +/- %.4f "
      "(llama.cpp 3.9594)\n",
      r->n_tokens, r->n_chunks, r->ppl, r->ppl_error);
}

TEST(Perplexity, RandomQwen3ModelsMatchLlamaCpp) {
  const auto cases = LoadJson("vectors/perplexity.json")["cases"];
  const std::string text = ReadText("texts/mixed.txt");
  for (const auto& c : cases) {
    const std::string model = c["model"];
    if (model.find("qwen3") == std::string::npos) continue;
    Loaded l = LoadWithTokenizer(model);
    ASSERT_TRUE(l.model && l.tokenizer);
    auto r = ComputePerplexity(*l.model, *l.tokenizer, text, c["ctx"].get<int>());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const double want = c["ppl"];
    EXPECT_NEAR(r->ppl, want, want * 0.01) << model;
    std::printf("%s mixed.txt ctx %d: PPL %.4f (llama.cpp %.4f)\n", model.c_str(),
                c["ctx"].get<int>(), r->ppl, want);
  }
}

TEST(Perplexity, RefusesShortText) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  auto r = ComputePerplexity(*l.model, *l.tokenizer, "Once upon a time", 128);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("needs at least 256 tokens"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace llmux::testing
