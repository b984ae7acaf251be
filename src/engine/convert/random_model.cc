#include "engine/convert/random_model.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>

#include "engine/convert/row_convert.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

constexpr int kMaxDim = 1 << 20;

// How a tensor's values are drawn.
enum class Init {
  kEmbedding,  // N(0, 0.02^2)
  kMatrix,     // N(0, 1/fan_in), fan_in = ne[0]
  kNorm,       // 1 + N(0, 0.1^2)
  kBias,       // N(0, 0.02^2)
};

struct PlannedTensor {
  std::string name;
  std::vector<int64_t> ne;
  Init init;
};

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// n standard normal values (Box-Muller) from a stream seeded by (seed, row).
void NormalRow(uint64_t seed, int64_t row, float* out, int64_t n) {
  uint64_t state = seed ^ (static_cast<uint64_t>(row) * 0xd1b54a32d192ed03ULL);
  SplitMix64(state);
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = (static_cast<double>(SplitMix64(state) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    double u2 = static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(r * std::cos(kTwoPi * u2));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(kTwoPi * u2));
  }
}

Status CheckSpec(const RandomModelSpec& s, int head_dim) {
  const bool moe = s.arch == "qwen3moe" || s.arch == "deepseek2";
  if (s.arch != "qwen3" && s.arch != "qwen2" && s.arch != "llama" && !moe) {
    return InvalidArgumentError("unknown architecture '" + s.arch +
                                "' (qwen3, qwen2, llama, qwen3moe or deepseek2)");
  }
  if (moe && (s.experts <= 0 || s.experts_used <= 0 || s.experts_used > s.experts ||
              s.expert_ffn <= 0 || s.expert_ffn > kMaxDim || s.experts > 4096)) {
    return InvalidArgumentError("a mixture of experts needs experts, experts_used <= experts and "
                                "expert_ffn");
  }
  if (s.arch == "deepseek2") {
    for (int v : {s.kv_lora, s.qk_nope, s.qk_rope, s.v_head}) {
      if (v <= 0 || v > kMaxDim) return InvalidArgumentError("deepseek2 needs kv_lora, qk_nope, qk_rope and v_head");
    }
    if (s.q_lora < 0 || s.q_lora > kMaxDim || s.qk_rope % 2 != 0 || s.dense_layers < 0 ||
        s.dense_layers > s.layers || s.shared_experts < 0 || s.shared_experts > 64 ||
        (s.expert_groups > 1 && s.experts % s.expert_groups != 0)) {
      return InvalidArgumentError("deepseek2: bad q_lora, qk_rope (even), dense_layers, "
                                  "shared_experts or expert_groups");
    }
  }
  for (auto [v, what] : {std::pair{s.hidden, "hidden"}, {s.layers, "layers"}, {s.heads, "heads"},
                         {s.kv_heads, "kv_heads"}, {head_dim, "head_dim"}, {s.ffn, "ffn"}}) {
    if (v <= 0 || v > kMaxDim) {
      return InvalidArgumentError(std::string(what) + " = " + std::to_string(v) + " is out of range");
    }
  }
  if (s.heads % s.kv_heads != 0) {
    return InvalidArgumentError("heads (" + std::to_string(s.heads) +
                                ") must be a multiple of kv_heads (" + std::to_string(s.kv_heads) + ")");
  }
  if (s.head_dim == 0 && s.hidden % s.heads != 0) {
    return InvalidArgumentError("hidden is not a multiple of heads; set head_dim");
  }
  if (head_dim % 2 != 0) return InvalidArgumentError("head_dim must be even (RoPE pairs)");
  if (s.vocab_path.empty()) return InvalidArgumentError("vocab_path (a GGUF with tokenizer keys) is required");
  return Status::Ok();
}

// DeepSeek's latent attention: q LoRA, the compressed kv, and the per-head k_b/v_b.
void PlanLatentAttention(const RandomModelSpec& s, const std::string& p,
                         std::vector<PlannedTensor>& t) {
  const int64_t h = s.hidden, heads = s.heads;
  const int64_t q_out = heads * (s.qk_nope + s.qk_rope);
  if (s.q_lora > 0) {
    t.push_back({p + "attn_q_a.weight", {h, s.q_lora}, Init::kMatrix});
    t.push_back({p + "attn_q_a_norm.weight", {s.q_lora}, Init::kNorm});
    t.push_back({p + "attn_q_b.weight", {s.q_lora, q_out}, Init::kMatrix});
  } else {
    t.push_back({p + "attn_q.weight", {h, q_out}, Init::kMatrix});
  }
  t.push_back({p + "attn_kv_a_mqa.weight", {h, s.kv_lora + s.qk_rope}, Init::kMatrix});
  t.push_back({p + "attn_kv_a_norm.weight", {s.kv_lora}, Init::kNorm});
  t.push_back({p + "attn_k_b.weight", {s.qk_nope, s.kv_lora, heads}, Init::kMatrix});
  t.push_back({p + "attn_v_b.weight", {s.kv_lora, s.v_head, heads}, Init::kMatrix});
  t.push_back({p + "attn_output.weight", {heads * s.v_head, h}, Init::kMatrix});
}

void PlanExperts(const RandomModelSpec& s, const std::string& p, std::vector<PlannedTensor>& t) {
  const int64_t h = s.hidden, e = s.experts, f = s.expert_ffn;
  t.push_back({p + "ffn_gate_inp.weight", {h, e}, Init::kMatrix});
  if (s.arch == "deepseek2") t.push_back({p + "exp_probs_b.bias", {e}, Init::kBias});
  t.push_back({p + "ffn_gate_exps.weight", {h, f, e}, Init::kMatrix});
  t.push_back({p + "ffn_up_exps.weight", {h, f, e}, Init::kMatrix});
  t.push_back({p + "ffn_down_exps.weight", {f, h, e}, Init::kMatrix});
  if (s.shared_experts > 0) {
    const int64_t fs = f * s.shared_experts;
    t.push_back({p + "ffn_gate_shexp.weight", {h, fs}, Init::kMatrix});
    t.push_back({p + "ffn_up_shexp.weight", {h, fs}, Init::kMatrix});
    t.push_back({p + "ffn_down_shexp.weight", {fs, h}, Init::kMatrix});
  }
}

std::vector<PlannedTensor> PlanTensors(const RandomModelSpec& s, int head_dim, int64_t n_vocab) {
  const int64_t h = s.hidden, q = int64_t{s.heads} * head_dim, kv = int64_t{s.kv_heads} * head_dim;
  std::vector<PlannedTensor> t;
  t.push_back({"token_embd.weight", {h, n_vocab}, Init::kEmbedding});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_norm.weight", {h}, Init::kNorm});
    if (s.arch == "deepseek2") {
      PlanLatentAttention(s, p, t);
      t.push_back({p + "ffn_norm.weight", {h}, Init::kNorm});
      if (l >= s.dense_layers) {
        PlanExperts(s, p, t);
        continue;
      }
      t.push_back({p + "ffn_gate.weight", {h, s.ffn}, Init::kMatrix});
      t.push_back({p + "ffn_up.weight", {h, s.ffn}, Init::kMatrix});
      t.push_back({p + "ffn_down.weight", {s.ffn, h}, Init::kMatrix});
      continue;
    }
    t.push_back({p + "attn_q.weight", {h, q}, Init::kMatrix});
    if (s.arch == "qwen2") t.push_back({p + "attn_q.bias", {q}, Init::kBias});
    t.push_back({p + "attn_k.weight", {h, kv}, Init::kMatrix});
    if (s.arch == "qwen2") t.push_back({p + "attn_k.bias", {kv}, Init::kBias});
    t.push_back({p + "attn_v.weight", {h, kv}, Init::kMatrix});
    if (s.arch == "qwen2") t.push_back({p + "attn_v.bias", {kv}, Init::kBias});
    t.push_back({p + "attn_output.weight", {q, h}, Init::kMatrix});
    if (s.arch == "qwen3" || s.arch == "qwen3moe") {
      t.push_back({p + "attn_q_norm.weight", {head_dim}, Init::kNorm});
      t.push_back({p + "attn_k_norm.weight", {head_dim}, Init::kNorm});
    }
    t.push_back({p + "ffn_norm.weight", {h}, Init::kNorm});
    if (s.arch == "qwen3moe") {
      PlanExperts(s, p, t);
      continue;
    }
    t.push_back({p + "ffn_gate.weight", {h, s.ffn}, Init::kMatrix});
    t.push_back({p + "ffn_up.weight", {h, s.ffn}, Init::kMatrix});
    t.push_back({p + "ffn_down.weight", {s.ffn, h}, Init::kMatrix});
  }
  t.push_back({"output_norm.weight", {h}, Init::kNorm});
  if (!s.tied) t.push_back({"output.weight", {h, n_vocab}, Init::kMatrix});
  return t;
}

void WriteMetadata(const RandomModelSpec& s, int head_dim, int64_t n_vocab,
                   const gguf::GgufFile& vocab, gguf::GgufWriter& w) {
  const bool llama = s.arch == "llama";
  const std::string a = s.arch + ".";
  w.SetString("general.architecture", s.arch);
  w.SetString("general.type", "model");
  w.SetString("general.name", s.name.empty() ? s.arch + " random-weight model (seed " +
                                                   std::to_string(s.seed) + ")"
                                             : s.name);
  w.SetUint32("general.alignment", 32);
  if (llama) w.SetUint32(a + "vocab_size", static_cast<uint32_t>(n_vocab));
  w.SetUint32(a + "block_count", static_cast<uint32_t>(s.layers));
  const bool qwen3 = s.arch == "qwen3" || s.arch == "qwen3moe";
  const bool deepseek = s.arch == "deepseek2";
  int ctx = s.context_length > 0 ? s.context_length
            : qwen3                ? 40960
            : deepseek             ? 163840
            : s.arch == "qwen2"    ? 32768
                                   : 4096;
  w.SetUint32(a + "context_length", static_cast<uint32_t>(ctx));
  w.SetUint32(a + "embedding_length", static_cast<uint32_t>(s.hidden));
  w.SetUint32(a + "feed_forward_length", static_cast<uint32_t>(s.ffn));
  w.SetUint32(a + "attention.head_count", static_cast<uint32_t>(s.heads));
  w.SetUint32(a + "attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
  if (llama) w.SetUint32(a + "rope.dimension_count", static_cast<uint32_t>(head_dim));
  const bool base_1e4 = llama || deepseek;
  w.SetFloat32(a + "rope.freq_base", s.rope_theta > 0 ? s.rope_theta : (base_1e4 ? 10000.0f : 1e6f));
  w.SetFloat32(a + "attention.layer_norm_rms_epsilon", s.rms_eps > 0 ? s.rms_eps : (llama ? 1e-5f : 1e-6f));
  if (s.pooling_type >= 0) w.SetUint32(a + "pooling_type", static_cast<uint32_t>(s.pooling_type));
  if (deepseek) {
    // The cache row is one "kv head" of latent + rope (ModelConfig::Mla).
    w.SetUint32(a + "attention.head_count_kv", 1);
    w.SetUint32(a + "attention.key_length", static_cast<uint32_t>(s.kv_lora + s.qk_rope));
    w.SetUint32(a + "attention.value_length", static_cast<uint32_t>(s.kv_lora));
    w.SetUint32(a + "attention.key_length_mla", static_cast<uint32_t>(s.qk_nope + s.qk_rope));
    w.SetUint32(a + "attention.value_length_mla", static_cast<uint32_t>(s.v_head));
    if (s.q_lora > 0) w.SetUint32(a + "attention.q_lora_rank", static_cast<uint32_t>(s.q_lora));
    w.SetUint32(a + "attention.kv_lora_rank", static_cast<uint32_t>(s.kv_lora));
    w.SetUint32(a + "rope.dimension_count", static_cast<uint32_t>(s.qk_rope));
    w.SetString(a + "rope.scaling.type", "yarn");
    w.SetFloat32(a + "rope.scaling.factor", 40.0f);
    w.SetUint32(a + "rope.scaling.original_context_length", 4096);
    w.SetFloat32(a + "rope.scaling.yarn_beta_fast", 32.0f);
    w.SetFloat32(a + "rope.scaling.yarn_beta_slow", 1.0f);
    w.SetFloat32(a + "rope.scaling.yarn_log_multiplier", 0.1f);
    w.SetUint32(a + "leading_dense_block_count", static_cast<uint32_t>(s.dense_layers));
    w.SetUint32(a + "expert_shared_count", static_cast<uint32_t>(s.shared_experts));
    w.SetUint32(a + "expert_gating_func", 2);
    w.SetBool(a + "expert_weights_norm", true);
    w.SetFloat32(a + "expert_weights_scale", 2.5f);
    if (s.expert_groups > 1) {
      w.SetUint32(a + "expert_group_count", static_cast<uint32_t>(s.expert_groups));
      w.SetUint32(a + "expert_group_used_count", static_cast<uint32_t>(s.expert_groups_used));
    }
  } else {
    w.SetUint32(a + "attention.key_length", static_cast<uint32_t>(head_dim));
    w.SetUint32(a + "attention.value_length", static_cast<uint32_t>(head_dim));
  }
  if (s.experts > 0) {
    w.SetUint32(a + "expert_count", static_cast<uint32_t>(s.experts));
    w.SetUint32(a + "expert_used_count", static_cast<uint32_t>(s.experts_used));
    w.SetUint32(a + "expert_feed_forward_length", static_cast<uint32_t>(s.expert_ffn));
  }
  w.SetUint32("general.file_type", FileTypeOf(s.type));
  if (Traits(DefaultType(s.type)).block_size > 1) w.SetUint32("general.quantization_version", 2);
  for (const auto& e : vocab.metadata()) {
    if (e.key.rfind("tokenizer.", 0) == 0) w.CopyValue(e.key, e.value);
  }
}

}  // namespace

Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path) {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  ThreadPool pool(static_cast<int>(std::min(hw, 4u)));
  return CreateRandomModel(spec, out_path, pool);
}

Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path, ThreadPool& pool) {
  const int head_dim = spec.head_dim > 0 ? spec.head_dim : (spec.heads > 0 ? spec.hidden / spec.heads : 0);
  LLMUX_RETURN_IF_ERROR(CheckSpec(spec, head_dim));
  LLMUX_ASSIGN_OR_RETURN(auto vocab, gguf::GgufFile::Open(spec.vocab_path));
  const gguf::ValueArray* tokens = vocab->FindArray("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->element_type() != gguf::ValueType::kString || tokens->empty()) {
    return InvalidArgumentError("'" + spec.vocab_path + "' has no tokenizer.ggml.tokens string array");
  }
  const auto n_vocab = static_cast<int64_t>(tokens->size());

  std::vector<PlannedTensor> planned = PlanTensors(spec, head_dim, n_vocab);
  std::vector<TensorShape> shapes;
  for (const auto& t : planned) shapes.push_back({t.name, t.ne, DType::kF32});
  std::vector<DType> types = PlanTensorTypes(shapes, spec.type, {}, spec.layers, spec.experts);

  gguf::GgufWriter w;
  WriteMetadata(spec, head_dim, n_vocab, *vocab, w);
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedTensor& t = planned[i];
    const DType type = types[i];
    const uint64_t seed = spec.seed ^ Fnv1a(t.name);
    const int64_t ne0 = t.ne[0];
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    float scale = 0.02f, offset = 0.0f;
    if (t.init == Init::kMatrix) scale = 1.0f / std::sqrt(static_cast<float>(ne0));
    if (t.init == Init::kNorm) scale = 0.1f, offset = 1.0f;
    w.AddTensor(t.name, type, t.ne, [=, &pool](std::span<uint8_t> out) {
      return FillRows(type, out.data(), ne0, rows, pool, [=](int64_t r, float* row) {
        NormalRow(seed, r, row, ne0);
        for (int64_t j = 0; j < ne0; ++j) row[j] = offset + scale * row[j];
      });
    });
  }
  return w.Write(out_path);
}

}  // namespace llmux::convert
