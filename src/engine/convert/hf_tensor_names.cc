#include "engine/convert/hf_tensor_names.h"

#include <cctype>

namespace llmux::convert {

namespace {

struct Part {
  std::string_view hf;
  std::string_view gguf;
};

// model.layers.N.<hf> -> blk.N.<gguf>
constexpr Part kLayerParts[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
};

// model.layers.N.mlp.experts.E.<hf> -> blk.N.<gguf>
constexpr Part kExpertParts[] = {
    {"gate_proj.weight", "ffn_gate_exps.weight"},
    {"up_proj.weight", "ffn_up_exps.weight"},
    {"down_proj.weight", "ffn_down_exps.weight"},
};

constexpr Part kGlobalParts[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// Reads a decimal number up to the next '.', advancing `s` past the dot.
std::optional<int> TakeIndex(std::string_view& s) {
  size_t i = 0;
  int v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (v > 10000000) return std::nullopt;
    v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0 || i >= s.size() || s[i] != '.') return std::nullopt;
  s.remove_prefix(i + 1);
  return v;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::optional<GgufTensorName> MapHfTensorName(std::string_view hf) {
  for (const Part& p : kGlobalParts) {
    if (hf == p.hf) return GgufTensorName{std::string(p.gguf)};
  }
  constexpr std::string_view kLayers = "model.layers.";
  if (hf.substr(0, kLayers.size()) != kLayers) return std::nullopt;
  std::string_view rest = hf.substr(kLayers.size());
  auto layer = TakeIndex(rest);
  if (!layer) return std::nullopt;
  const std::string blk = "blk." + std::to_string(*layer) + ".";
  for (const Part& p : kLayerParts) {
    if (rest == p.hf) return GgufTensorName{blk + std::string(p.gguf), *layer};
  }
  constexpr std::string_view kExperts = "mlp.experts.";
  if (rest.substr(0, kExperts.size()) != kExperts) return std::nullopt;
  rest.remove_prefix(kExperts.size());
  auto expert = TakeIndex(rest);
  if (!expert) return std::nullopt;
  for (const Part& p : kExpertParts) {
    if (rest == p.hf) return GgufTensorName{blk + std::string(p.gguf), *layer, *expert};
  }
  return std::nullopt;
}

bool IsIgnoredHfTensor(std::string_view hf_name) {
  return EndsWith(hf_name, "rotary_emb.inv_freq");
}

std::string HfNameOf(std::string_view gguf) {
  for (const Part& p : kGlobalParts) {
    if (gguf == p.gguf) return std::string(p.hf);
  }
  std::string_view rest = gguf;
  if (rest.substr(0, 4) != "blk.") return std::string(gguf);
  rest.remove_prefix(4);
  auto layer = TakeIndex(rest);
  if (!layer) return std::string(gguf);
  const std::string prefix = "model.layers." + std::to_string(*layer) + ".";
  for (const Part& p : kLayerParts) {
    if (rest == p.gguf) return prefix + std::string(p.hf);
  }
  for (const Part& p : kExpertParts) {
    if (rest == p.gguf) return prefix + "mlp.experts.0." + std::string(p.hf);
  }
  if (rest == "attn_k_b.weight" || rest == "attn_v_b.weight") {
    return prefix + "self_attn.kv_b_proj.weight";
  }
  return std::string(gguf);
}

}  // namespace llmux::convert
