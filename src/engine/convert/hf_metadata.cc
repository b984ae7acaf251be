#include "engine/convert/hf_metadata.h"

#include <cmath>
#include <utility>

#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

struct KnownArch {
  const char* hf_class;
  const char* model_type;
  const char* gguf;
};

constexpr KnownArch kArchs[] = {
    {"LlamaForCausalLM", "llama", "llama"},
    {"Qwen2ForCausalLM", "qwen2", "qwen2"},
    {"Qwen3ForCausalLM", "qwen3", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3_moe", "qwen3moe"},
    {"DeepseekV3ForCausalLM", "deepseek_v3", "deepseek2"},
};

std::string SupportedList() {
  std::string s;
  for (const KnownArch& a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a.hf_class);
  return s;
}

Result<int> RequiredInt(const HfConfig& c, std::initializer_list<const char*> keys) {
  auto v = c.FirstInt(keys);
  if (!v || *v < 0 || *v > (1 << 30)) {
    return InvalidArgumentError("config.json: " + std::string(*keys.begin()) +
                                " is missing or not a non-negative integer");
  }
  return static_cast<int>(*v);
}

uint32_t U32(int64_t v) { return static_cast<uint32_t>(v); }

// rope_parameters / rope_scaling as the converter reads them ("rope_type" or the older "type").
void AddRopeScaling(const HfConfig& c, const std::string& arch, gguf::GgufWriter& w) {
  std::string p = c.Find("rope_parameters.rope_type") || c.Find("rope_parameters.type")
                      ? "rope_parameters."
                      : "rope_scaling.";
  auto type = c.String(p + "rope_type");
  if (!type) type = c.String(p + "type");
  auto factor = c.Float(p + "factor");
  if (!type || !factor) return;
  const std::string k = arch + ".rope.scaling.";
  if (*type == "linear") {
    w.SetString(k + "type", "linear");
    w.SetFloat32(k + "factor", static_cast<float>(*factor));
  } else if (*type == "yarn") {
    w.SetString(k + "type", "yarn");
    w.SetFloat32(k + "factor", static_cast<float>(*factor));
    auto orig = c.Int(p + "original_max_position_embeddings");
    if (!orig) orig = c.Int("original_max_position_embeddings");
    if (orig) w.SetUint32(k + "original_context_length", U32(*orig));
    if (auto v = c.Float(p + "extrapolation_factor")) w.SetFloat32(k + "yarn_ext_factor", *v);
    auto attn = c.Float(p + "attention_factor");
    if (!attn) attn = c.Float(p + "attn_factor");
    if (attn) w.SetFloat32(k + "yarn_attn_factor", static_cast<float>(*attn));
    if (auto v = c.Float(p + "beta_fast")) w.SetFloat32(k + "yarn_beta_fast", *v);
    if (auto v = c.Float(p + "beta_slow")) w.SetFloat32(k + "yarn_beta_slow", *v);
  }
  // deepseek2 keeps 0.1 * mscale_all_dim (llama.cpp divides by 0.1 again when loading).
  if (arch == "deepseek2") {
    if (auto m = c.Float(p + "mscale_all_dim")) {
      w.SetFloat32(k + "yarn_log_multiplier", static_cast<float>(0.1 * *m));
    }
  }
}

// The keys every architecture gets (the converter's TextModel.set_gguf_parameters).
void AddCommon(const HfConfig& c, const HfModelShape& s, gguf::GgufWriter& w) {
  const std::string& a = s.arch;
  w.SetUint32(a + ".block_count", U32(s.n_layer));
  if (auto v = c.FirstInt({"max_position_embeddings", "n_ctx", "n_positions"}))
    w.SetUint32(a + ".context_length", U32(*v));
  if (auto v = c.Int("hidden_size")) w.SetUint32(a + ".embedding_length", U32(*v));
  if (auto v = c.Int("intermediate_size")) w.SetUint32(a + ".feed_forward_length", U32(*v));
  w.SetUint32(a + ".attention.head_count", U32(s.n_head));
  if (c.Int("num_key_value_heads") || a == "deepseek2")
    w.SetUint32(a + ".attention.head_count_kv", U32(a == "deepseek2" ? 1 : s.n_head_kv));
  AddRopeScaling(c, a, w);
  auto theta = c.Float("rope_theta");
  if (!theta) theta = c.Float("rope_parameters.rope_theta");
  if (theta) w.SetFloat32(a + ".rope.freq_base", static_cast<float>(*theta));
  auto eps = c.Float("rms_norm_eps");
  if (!eps && a == "deepseek2") eps = 1e-6;
  if (eps) w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(*eps));
  if (s.n_expert > 0) w.SetUint32(a + ".expert_count", U32(s.n_expert));
  if (auto v = c.Int("num_experts_per_tok")) w.SetUint32(a + ".expert_used_count", U32(*v));
  if (auto v = c.Int("n_group")) w.SetUint32(a + ".expert_group_count", U32(*v));
  if (auto v = c.Int("topk_group")) w.SetUint32(a + ".expert_group_used_count", U32(*v));
  if (auto f = c.String("scoring_func")) {
    if (*f == "softmax") w.SetUint32(a + ".expert_gating_func", 1);
    if (*f == "sigmoid") w.SetUint32(a + ".expert_gating_func", 2);
  }
  if (auto v = c.Int("head_dim")) {
    w.SetUint32(a + ".attention.key_length", U32(*v));
    w.SetUint32(a + ".attention.value_length", U32(*v));
  }
}

Status AddDeepseek2(const HfConfig& c, const HfModelShape& s, gguf::GgufWriter& w) {
  const std::string a = "deepseek2.";
  w.SetUint32(a + "leading_dense_block_count", U32(s.first_dense));
  if (auto v = c.Int("vocab_size")) w.SetUint32(a + "vocab_size", U32(*v));
  if (auto v = c.Int("q_lora_rank")) w.SetUint32(a + "attention.q_lora_rank", U32(*v));
  const int64_t kv_lora = c.Int("kv_lora_rank").value_or(512);
  LLMUX_ASSIGN_OR_RETURN(int rope, RequiredInt(c, {"qk_rope_head_dim"}));
  w.SetUint32(a + "attention.kv_lora_rank", U32(kv_lora));
  w.SetUint32(a + "attention.key_length", U32(kv_lora + rope));
  w.SetUint32(a + "attention.value_length", U32(kv_lora));
  w.SetUint32(a + "attention.key_length_mla", U32(s.qk_nope + rope));
  w.SetUint32(a + "attention.value_length_mla", U32(s.v_head));
  LLMUX_ASSIGN_OR_RETURN(int moe_ff,
                         RequiredInt(c, {"moe_intermediate_size", "intermediate_size"}));
  w.SetUint32(a + "expert_feed_forward_length", U32(moe_ff));
  if (s.n_expert > 0) w.SetUint32(a + "expert_count", U32(s.n_expert));
  w.SetUint32(a + "expert_shared_count", U32(s.n_shared_experts));
  if (auto v = c.Float("routed_scaling_factor"))
    w.SetFloat32(a + "expert_weights_scale", static_cast<float>(*v));
  if (c.Bool("norm_topk_prob").value_or(false)) w.SetBool(a + "expert_weights_norm", true);
  w.SetUint32(a + "rope.dimension_count", U32(rope));
  return Status::Ok();
}

}  // namespace

Result<HfModelShape> ReadModelShape(const HfConfig& c) {
  HfModelShape s;
  auto hf_class = c.String("architectures.0");
  auto model_type = c.String("model_type");
  for (const KnownArch& a : kArchs) {
    if (hf_class ? *hf_class == a.hf_class : model_type && *model_type == a.model_type) {
      s.arch = a.gguf;
    }
  }
  if (s.arch.empty()) {
    const std::string name = hf_class ? *hf_class : model_type ? *model_type : "(none given)";
    return InvalidArgumentError("unsupported architecture '" + name +
                                "' (config.json architectures[0]); supported: " + SupportedList());
  }
  LLMUX_ASSIGN_OR_RETURN(s.n_layer, RequiredInt(c, {"num_hidden_layers"}));
  LLMUX_ASSIGN_OR_RETURN(s.n_head, RequiredInt(c, {"num_attention_heads"}));
  if (s.n_head == 0) return InvalidArgumentError("config.json: num_attention_heads is 0");
  s.n_head_kv = static_cast<int>(c.Int("num_key_value_heads").value_or(s.n_head));
  s.n_expert = static_cast<int>(
      c.FirstInt({"num_experts", "n_routed_experts", "num_local_experts"}).value_or(0));
  s.tied = c.Bool("tie_word_embeddings").value_or(false);
  if (auto bs0 = c.Int("quantization_config.weight_block_size.0")) s.fp8_block_rows = int(*bs0);
  if (auto bs1 = c.Int("quantization_config.weight_block_size.1")) s.fp8_block_cols = int(*bs1);
  if (s.arch == "qwen3moe" && s.n_expert == 0)
    return InvalidArgumentError("config.json: num_experts is missing (Qwen3-MoE)");
  if (s.arch == "deepseek2") {
    s.first_dense =
        static_cast<int>(c.Int("first_k_dense_replace").value_or(s.n_expert > 0 ? 0 : s.n_layer));
    s.n_shared_experts = static_cast<int>(c.Int("n_shared_experts").value_or(0));
    s.q_lora = c.Int("q_lora_rank").has_value();
    LLMUX_ASSIGN_OR_RETURN(s.qk_nope, RequiredInt(c, {"qk_nope_head_dim"}));
    LLMUX_ASSIGN_OR_RETURN(s.v_head, RequiredInt(c, {"v_head_dim"}));
  }
  return s;
}

std::vector<float> Llama3RopeFactors(const HfConfig& c, const HfModelShape& s) {
  if (s.arch != "llama") return {};
  std::string p = c.Find("rope_parameters.rope_type") ? "rope_parameters." : "rope_scaling.";
  auto type = c.String(p + "rope_type");
  if (!type) type = c.String(p + "type");
  if (!type || *type != "llama3" || s.n_head <= 0) return {};
  const double base = c.Float("rope_theta").value_or(c.Float(p + "rope_theta").value_or(10000.0));
  const int64_t dim = c.Int("head_dim").value_or(c.Int("hidden_size").value_or(0) / s.n_head);
  if (dim < 2 || dim > (1 << 16)) return {};
  const double factor = c.Float(p + "factor").value_or(8.0);
  const double low = c.Float(p + "low_freq_factor").value_or(1.0);
  const double high = c.Float(p + "high_freq_factor").value_or(4.0);
  const double old_ctx = c.Float(p + "original_max_position_embeddings").value_or(8192.0);
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    // The converter computes the frequencies in float32.
    const float freq = 1.0f / std::pow(static_cast<float>(base), static_cast<float>(i) / dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back(static_cast<float>(1 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

Status AddArchitectureMetadata(const HfConfig& c, const HfModelShape& s, gguf::GgufWriter& w) {
  w.SetString("general.architecture", s.arch);
  w.SetString("general.type", "model");
  AddCommon(c, s, w);
  if (s.arch == "llama") {
    if (auto v = c.Int("vocab_size")) w.SetUint32("llama.vocab_size", U32(*v));
    int64_t rope_dim = c.Int("head_dim").value_or(c.Int("hidden_size").value_or(0) / s.n_head);
    w.SetUint32("llama.rope.dimension_count", U32(rope_dim));
  } else if (s.arch == "qwen3moe") {
    if (auto v = c.Int("moe_intermediate_size"))
      w.SetUint32("qwen3moe.expert_feed_forward_length", U32(*v));
    if (auto v = c.Int("shared_expert_intermediate_size"))
      w.SetUint32("qwen3moe.expert_shared_feed_forward_length", U32(*v));
  } else if (s.arch == "deepseek2") {
    LLMUX_RETURN_IF_ERROR(AddDeepseek2(c, s, w));
  }
  return Status::Ok();
}

}  // namespace llmux::convert
