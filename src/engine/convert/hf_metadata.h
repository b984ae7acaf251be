// The architecture of a Hugging Face checkpoint and the GGUF keys llama.cpp's
// convert_hf_to_gguf.py writes for it (general.architecture and the <arch>.* hyper-parameters).
#pragma once

#include <string>

#include "base/status.h"
#include "engine/convert/hf_checkpoint.h"

namespace llmux::gguf {
class GgufWriter;
}

namespace llmux::convert {

// What the importer needs to know about the model's shape, read from config.json.
struct HfModelShape {
  std::string arch;     // GGUF architecture: llama, qwen2, qwen3, qwen3moe, deepseek2
  int n_layer = 0;      // num_hidden_layers
  int n_head = 0;       // num_attention_heads
  int n_head_kv = 0;    // num_key_value_heads (= n_head when absent)
  int n_expert = 0;     // routed experts (0: dense)
  bool tied = false;    // tie_word_embeddings: no output.weight
  int first_dense = 0;  // deepseek2: leading layers with a dense FFN
  int n_shared_experts = 0;
  bool q_lora = false;                             // deepseek2: q through q_a/q_b
  int qk_nope = 0, v_head = 0;                     // deepseek2 per-head widths of kv_b
  int fp8_block_rows = 128, fp8_block_cols = 128;  // quantization_config.weight_block_size
};

// InvalidArgument naming the architecture and listing the supported ones when config.json's
// architectures[0] (or model_type) is not one of LlamaForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM, Qwen3MoeForCausalLM, DeepseekV3ForCausalLM; or when a required
// hyper-parameter is missing.
Result<HfModelShape> ReadModelShape(const HfConfig& config);

// Llama 3.1's `rope_type: llama3` (rope_scaling or rope_parameters): the per-pair frequency
// divisors the converter writes as rope_freqs.weight (head_dim / 2 values: 1 for wavelengths
// below original_max_position_embeddings / high_freq_factor, `factor` above
// original_max_position_embeddings / low_freq_factor, smoothly between). Empty for any other
// rope.
std::vector<float> Llama3RopeFactors(const HfConfig& config, const HfModelShape& shape);

// Adds general.architecture and the <arch>.* keys.
Status AddArchitectureMetadata(const HfConfig& config, const HfModelShape& shape,
                               gguf::GgufWriter& w);

}  // namespace llmux::convert
