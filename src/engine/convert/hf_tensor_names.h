// Hugging Face tensor names -> GGUF tensor names, as llama.cpp's convert_hf_to_gguf.py names
// them for llama, qwen2, qwen3, qwen3moe and deepseek2 (DeepSeek-V3):
//   model.embed_tokens.weight -> token_embd.weight, model.norm.weight -> output_norm.weight,
//   lm_head.weight -> output.weight, model.layers.N.<part> -> blk.N.<gguf part> (table in the
//   .cc), model.layers.N.mlp.experts.E.<proj>.weight -> blk.N.ffn_<proj>_exps.weight (expert E
//   of a stacked 3-D tensor), and self_attn.kv_b_proj -> attn_kv_b (split by the importer into
//   attn_k_b and attn_v_b).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmux::convert {

struct GgufTensorName {
  std::string name;  // e.g. "blk.3.attn_q.weight", "blk.1.ffn_up_exps.weight"
  int layer = -1;    // N of model.layers.N, or -1
  int expert = -1;   // E of mlp.experts.E, or -1
};

// The GGUF name of a checkpoint tensor, or nullopt when it has none.
std::optional<GgufTensorName> MapHfTensorName(std::string_view hf_name);

// Tensors a checkpoint may hold that are not model weights (rotary caches), skipped silently.
bool IsIgnoredHfTensor(std::string_view hf_name);

// The checkpoint name of a GGUF tensor (the inverse, for error messages): "blk.2.attn_k.weight"
// -> "model.layers.2.self_attn.k_proj.weight"; expert tensors give expert 0's name.
std::string HfNameOf(std::string_view gguf_name);

}  // namespace llmux::convert
