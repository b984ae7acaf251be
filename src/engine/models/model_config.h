// Reads the architecture-independent part of a ModelConfig from `<arch>.*` GGUF keys.
// Architecture files then set what is theirs (RoPE layout, biases, q/k norms).
#pragma once

#include <string_view>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/models/model.h"

namespace llmux {

// Reads dims, attention heads, head_dim (key_length, default n_embd / n_head), rope
// (dimension_count, freq_base, scaling.*), rms epsilon and context length, and checks
// that they are positive, in sane ranges and consistent. n_vocab is left 0 (it comes
// from the token_embd shape); rope.layout is left kNormal.
Result<ModelConfig> ReadModelConfig(const gguf::GgufFile& file, std::string_view arch);

// Reads expert_count, expert_used_count and expert_feed_forward_length (all required) into
// the config's MoE fields, checking 1 <= used <= count.
Status ReadExpertConfig(const gguf::GgufFile& file, ModelConfig& config);

// Reads the DeepSeek-style MoE keys into the config: leading_dense_block_count,
// expert_shared_count, expert_gating_func, expert_weights_norm/scale and the expert groups
// (absent keys: llama.cpp's defaults). Call after ReadExpertConfig.
Status ReadExpertRouting(const gguf::GgufFile& file, ModelConfig& config);

// Reads multi-head latent attention (deepseek2): q/kv LoRA ranks, key/value_length_mla, and
// checks the cache shape the converter writes (one kv head of kv_lora + n_rot). Sets the
// score scale, with YaRN's mscale when the rope is YaRN-scaled.
Status ReadMlaConfig(const gguf::GgufFile& file, ModelConfig& config);

}  // namespace llmux
