// `llmux model import` checked by a round trip: each shared mini model (GGUF) is written back as
// a Hugging Face checkpoint by the test's own exporter (safetensors_writer.h: the inverse naming,
// llama's rotate-half row order, per-expert tensors, DeepSeek's merged kv_b_proj, tokenizer.json
// from the vocabulary, config.json with the model's real hyper-parameters), imported again, and
// compared with the original: every tensor equal to the original's dequantized F32 values, every
// metadata key the original has equal, and the same logits and greedy tokens through the engine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../cli/run_command.h"
#include "../models/test_support.h"
#include "base/thread_pool.h"
#include "cli/hf_checkpoint_reader.h"
#include "engine/convert/hf_import.h"
#include "engine/backend/kv_cache.h"
#include "engine/tokenizer/tokenizer.h"
#include "safetensors_writer.h"

namespace llmux::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path TempDir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("llmux_hf_roundtrip_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The Qwen3 tokenizer_config.json fields the shared models were converted from.
json QwenTokenizerConfig() {
  return {{"tokenizer_class", "Qwen2Tokenizer"},
          {"bos_token", nullptr},
          {"eos_token", "<|im_end|>"},
          {"pad_token", "<|endoftext|>"},
          {"add_bos_token", false}};
}

// Keys that describe the file rather than the model.
bool IsFileKey(const std::string& k) {
  return k == "general.name" || k == "general.file_type" || k == "general.quantization_version" ||
         k == "llama.tensor_data_layout";
}

std::vector<float> Logits(Model& m, const std::vector<int32_t>& ids) {
  const size_t vocab = static_cast<size_t>(m.config().n_vocab);
  std::vector<float> out(vocab * ids.size());
  auto cache = m.NewCache(static_cast<int>(ids.size()) + 16);
  EXPECT_TRUE(cache.ok());
  EXPECT_TRUE(m.Forward(**cache, ids, 0, out.data(), true).ok());
  return out;
}

std::vector<int32_t> Greedy(Model& m, std::vector<int32_t> ids, int n) {
  const size_t vocab = static_cast<size_t>(m.config().n_vocab);
  auto cache = m.NewCache(static_cast<int>(ids.size()) + n + 1);
  EXPECT_TRUE(cache.ok());
  std::vector<float> logits(vocab);
  EXPECT_TRUE(m.Forward(**cache, ids, 0, logits.data(), false).ok());
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    EXPECT_TRUE(
        m.Forward(**cache, {&next, 1}, static_cast<int>(ids.size()) + i, logits.data(), false)
            .ok());
  }
  return out;
}

struct RoundTrip {
  std::string model;  // under models/
  json config;        // config.json
  json tokenizer_config;
  ExportOptions export_options;
  int expect_hf_tensors = 0;  // how many tensors the checkpoint has (counted from the README)
};

// Exports, imports (F32) and compares. `via_cli` runs the llmux binary instead of the library.
void CheckRoundTrip(const RoundTrip& rt, bool via_cli = false) {
  auto original = OpenShared("models/" + rt.model);
  ASSERT_NE(original, nullptr);
  const fs::path dir = TempDir(rt.model + ".hf");
  std::ofstream(dir / "config.json") << rt.config.dump(1);
  const int n_hf = ExportCheckpoint(*original, dir, rt.export_options);
  EXPECT_EQ(n_hf, rt.expect_hf_tensors);
  ExportTokenizer(*original, dir, rt.tokenizer_config);

  const std::string out = (dir.parent_path() / (rt.model + ".imported.gguf")).string();
  if (via_cli) {
    auto r = RunLlmux("model import '" + dir.string() + "' --out '" + out + "' --type f32 -t 2",
                      /*merge_stderr=*/true);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    // stderr is not a terminal here: no progress bar, only the summary line.
    EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
  } else {
    auto ck = cli::ReadHfCheckpoint(dir.string());
    ASSERT_TRUE(ck.ok()) << ck.status().ToString();
    ThreadPool pool(2);
    convert::HfImportOptions o;
    o.target = convert::QuantizeTarget::kF32;
    int64_t calls = 0;
    o.progress = [&](const convert::ConvertProgress& p) {
      ++calls;
      EXPECT_EQ(p.tensors_done, calls);
      EXPECT_LE(p.bytes_done, p.bytes_total);
    };
    auto s = convert::ImportHfCheckpoint(*ck, out, pool, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(calls, static_cast<int64_t>(original->tensors().size()));
  }

  auto imported_file = gguf::GgufFile::Open(out);
  ASSERT_TRUE(imported_file.ok()) << imported_file.status().ToString();
  std::shared_ptr<const gguf::GgufFile> imported = std::move(imported_file).value();

  // Tensors: the same names and shapes, F32, equal to the original's dequantized values.
  EXPECT_EQ(imported->tensors().size(), original->tensors().size());
  for (const auto& t : original->tensors()) {
    SCOPED_TRACE(t.name);
    const gguf::TensorInfo* u = imported->FindTensor(t.name);
    ASSERT_NE(u, nullptr) << "missing in the import";
    EXPECT_EQ(u->ne, t.ne);
    EXPECT_EQ(u->type, DType::kF32);
    const std::vector<float> want = TensorF32(t);
    ASSERT_EQ(u->nbytes, want.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(u->data, want.data(), u->nbytes), 0) << "values differ";
  }
  // Metadata: every key of the original, equal.
  for (const auto& e : original->metadata()) {
    if (IsFileKey(e.key)) continue;
    SCOPED_TRACE(e.key);
    const gguf::Value* v = imported->Find(e.key);
    ASSERT_NE(v, nullptr) << "key missing in the import";
    EXPECT_TRUE(*v == e.value) << "value differs";
  }
  EXPECT_EQ(imported->GetInt("general.file_type"), 0);

  // The engine gives the same numbers: against the original itself when it is F32, else against
  // its dequantized F32 copy (the same weights without Q8_0 activation rounding).
  std::shared_ptr<const gguf::GgufFile> reference = original;
  if (original->tensors()[0].type != DType::kF32 || original->FindTensor("blk.0.attn_q_b.weight") ||
      original->FindTensor("blk.0.ffn_gate_exps.weight")) {
    const std::string copy = (dir.parent_path() / (rt.model + ".dequantized.gguf")).string();
    ASSERT_TRUE(WriteDequantizedCopy(*original, copy).ok());
    auto f = gguf::GgufFile::Open(copy);
    ASSERT_TRUE(f.ok());
    reference = std::move(f).value();
  }
  auto a = Model::Load(reference, 1);
  auto b = Model::Load(imported, 1);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto tok_a = Tokenizer::FromGguf(*reference);
  auto tok_b = Tokenizer::FromGguf(*imported);
  ASSERT_TRUE(tok_a.ok() && tok_b.ok());
  const std::vector<int32_t> ids = (*tok_b)->Encode("Once upon a time", true, false);
  EXPECT_EQ(ids, (*tok_a)->Encode("Once upon a time", true, false));
  EXPECT_EQ(Logits(**a, ids), Logits(**b, ids));
  const auto ga = Greedy(**a, ids, 12), gb = Greedy(**b, ids, 12);
  EXPECT_EQ(ga, gb);
  fs::remove_all(dir.parent_path());
}

// stories260K (llama): q/k rows permuted, two shards with an index, SentencePiece vocabulary.
TEST(HfImportRoundTrip, Stories260kLlama) {
  RoundTrip rt;
  rt.model = "stories260K.gguf";
  rt.config = {{"architectures", {"LlamaForCausalLM"}},
               {"model_type", "llama"},
               {"hidden_size", 64},
               {"intermediate_size", 172},
               {"num_hidden_layers", 5},
               {"num_attention_heads", 8},
               {"num_key_value_heads", 4},
               {"max_position_embeddings", 512},
               {"rms_norm_eps", 1e-5},
               {"vocab_size", 512},
               {"tie_word_embeddings", false},
               {"torch_dtype", "float32"}};
  rt.tokenizer_config = {{"bos_token", "<s>"},    {"eos_token", "</s>"},
                         {"pad_token", "<unk>"},  {"unk_token", "<unk>"},
                         {"add_bos_token", true}, {"tokenizer_class", "LlamaTokenizer"}};
  rt.export_options = {.llama_rope_permute = true, .n_head = 8, .n_head_kv = 4, .shards = 2};
  rt.expect_hf_tensors = 48;
  CheckRoundTrip(rt);
}

TEST(HfImportRoundTrip, Stories260kThroughTheCommandLine) {
  RoundTrip rt;
  rt.model = "stories260K.gguf";
  rt.config = {{"architectures", {"LlamaForCausalLM"}},
               {"hidden_size", 64},
               {"intermediate_size", 172},
               {"num_hidden_layers", 5},
               {"num_attention_heads", 8},
               {"num_key_value_heads", 4},
               {"max_position_embeddings", 512},
               {"rms_norm_eps", 1e-5},
               {"vocab_size", 512}};
  rt.tokenizer_config = {
      {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"pad_token", "<unk>"}, {"unk_token", "<unk>"}};
  rt.export_options = {.llama_rope_permute = true, .n_head = 8, .n_head_kv = 4, .shards = 1};
  rt.expect_hf_tensors = 48;
  CheckRoundTrip(rt, /*via_cli=*/true);
}

TEST(HfImportRoundTrip, Qwen3MiniF32) {
  RoundTrip rt;
  rt.model = "qwen3-mini-f32.gguf";
  rt.config = {{"architectures", {"Qwen3ForCausalLM"}},
               {"model_type", "qwen3"},
               {"hidden_size", 64},
               {"intermediate_size", 192},
               {"num_hidden_layers", 2},
               {"num_attention_heads", 4},
               {"num_key_value_heads", 2},
               {"head_dim", 32},
               {"max_position_embeddings", 40960},
               {"rms_norm_eps", 1e-6},
               {"rope_theta", 1000000.0},
               {"rope_scaling", nullptr},
               {"vocab_size", 151936},
               {"tie_word_embeddings", true}};
  rt.tokenizer_config = QwenTokenizerConfig();
  rt.expect_hf_tensors = 24;
  CheckRoundTrip(rt);
}

TEST(HfImportRoundTrip, Qwen3MoeMini) {
  RoundTrip rt;
  rt.model = "qwen3moe-mini-q8_0.gguf";
  rt.config = {{"architectures", {"Qwen3MoeForCausalLM"}},
               {"model_type", "qwen3_moe"},
               {"hidden_size", 64},
               {"intermediate_size", 192},
               {"moe_intermediate_size", 64},
               {"num_hidden_layers", 2},
               {"num_attention_heads", 4},
               {"num_key_value_heads", 2},
               {"head_dim", 32},
               {"num_experts", 8},
               {"num_experts_per_tok", 2},
               {"norm_topk_prob", true},
               {"max_position_embeddings", 40960},
               {"rms_norm_eps", 1e-6},
               {"rope_theta", 1000000.0},
               {"vocab_size", 151936},
               {"tie_word_embeddings", false}};
  rt.tokenizer_config = QwenTokenizerConfig();
  // 3 global + per layer 8 attention/norm tensors, the router and 8 x 3 experts.
  rt.expect_hf_tensors = 3 + 2 * (8 + 1 + 24);
  CheckRoundTrip(rt);
}

TEST(HfImportRoundTrip, Deepseek3Mini) {
  RoundTrip rt;
  rt.model = "deepseek3-mini-q8_0.gguf";
  rt.config = {{"architectures", {"DeepseekV3ForCausalLM"}},
               {"model_type", "deepseek_v3"},
               {"hidden_size", 64},
               {"intermediate_size", 128},
               {"moe_intermediate_size", 64},
               {"num_hidden_layers", 3},
               {"num_attention_heads", 4},
               {"num_key_value_heads", 4},
               {"q_lora_rank", 32},
               {"kv_lora_rank", 32},
               {"qk_nope_head_dim", 32},
               {"qk_rope_head_dim", 16},
               {"v_head_dim", 16},
               {"first_k_dense_replace", 1},
               {"n_routed_experts", 8},
               {"num_experts_per_tok", 2},
               {"n_shared_experts", 1},
               {"n_group", 4},
               {"topk_group", 2},
               {"scoring_func", "sigmoid"},
               {"topk_method", "noaux_tc"},
               {"routed_scaling_factor", 2.5},
               {"norm_topk_prob", true},
               {"max_position_embeddings", 163840},
               {"rms_norm_eps", 1e-6},
               {"rope_theta", 10000},
               {"rope_scaling",
                {{"type", "yarn"},
                 {"factor", 40},
                 {"original_max_position_embeddings", 4096},
                 {"beta_fast", 32},
                 {"beta_slow", 1},
                 {"mscale", 1.0},
                 {"mscale_all_dim", 1.0}}},
               {"vocab_size", 151936},
               {"tie_word_embeddings", true}};
  rt.tokenizer_config = QwenTokenizerConfig();
  // 2 global (tied); per layer 9 attention/norm tensors (kv_b merged); layer 0: 3 dense FFN;
  // layers 1-2: router, bias, 8 x 3 experts, 3 shared.
  rt.expect_hf_tensors = 2 + 3 * 9 + 3 + 2 * (2 + 24 + 3);
  CheckRoundTrip(rt);
}

}  // namespace
}  // namespace llmux::testing

namespace llmux::testing {
namespace {

// The command line reports refusals with the reason and a failing exit code.
TEST(HfImportCommandLine, RefusalsExitNonZeroWithTheReason) {
  auto original = OpenShared("models/stories260K.gguf");
  ASSERT_NE(original, nullptr);
  const fs::path dir = TempDir("refusals");
  ExportCheckpoint(*original, dir, {.llama_rope_permute = true, .n_head = 8, .n_head_kv = 4});
  ExportTokenizer(*original, dir, {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  const std::string cmd =
      "model import '" + dir.string() + "' --out '" + (dir / "o.gguf").string() + "'";

  std::ofstream(dir / "config.json")
      << R"({"architectures": ["GPT2LMHeadModel"], "num_hidden_layers": 5})";
  auto arch = RunLlmux(cmd, /*merge_stderr=*/true);
  EXPECT_EQ(arch.exit_code, 1);
  EXPECT_NE(arch.out.find("error: unsupported architecture 'GPT2LMHeadModel'"), std::string::npos)
      << arch.out;

  // 5 layers of weights, but the config says 6: layer 5 is missing.
  std::ofstream(dir / "config.json")
      << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 6,
            "num_attention_heads": 8, "num_key_value_heads": 4})";
  auto missing = RunLlmux(cmd, /*merge_stderr=*/true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("error: missing tensor 'model.layers.5.input_layernorm.weight' (GGUF "
                             "blk.5.attn_norm.weight)"),
            std::string::npos)
      << missing.out;
  EXPECT_FALSE(fs::exists(dir / "o.gguf"));
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace llmux::testing
