// Writes a model with random weights and a real vocabulary, for tests and benchmarks of
// architectures we have no small trained checkpoint of.
//
// The metadata keys, tensor names and shapes are those llama.cpp's converter writes for the
// architecture; the tokenizer.* keys are copied from another GGUF (n_vocab = its token count).
// Weights: matrices (output.weight included) ~ N(0, 1/fan_in) with fan_in = ne[0]; token_embd
// and biases ~ N(0, 0.02^2); norms 1 + N(0, 0.1^2). Deterministic from the seed, independent of
// the thread count. Tensors are generated, converted and written one at a time, so a
// Qwen3-0.6B-sized model needs little more memory than its largest tensor.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/convert/tensor_types.h"

namespace llmux::convert {

struct RandomModelSpec {
  std::string arch = "qwen3";  // qwen3 | qwen2 | llama | qwen3moe | deepseek2
  int hidden = 64;
  int layers = 2;
  int heads = 4;
  int kv_heads = 2;
  int head_dim = 0;  // 0: hidden / heads
  int ffn = 192;
  bool tied = true;  // no output.weight; the output projection reuses token_embd
  QuantizeTarget type = QuantizeTarget::kF32;
  uint64_t seed = 1234;
  std::string vocab_path;  // GGUF whose tokenizer.* keys are copied (required)
  int context_length = 0;  // 0: the architecture's usual value (qwen3 40960, qwen2 32768, llama 4096)
  float rope_theta = 0;    // 0: 1e6 for qwen2/qwen3, 1e4 for llama
  float rms_eps = 0;       // 0: 1e-6 for qwen2/qwen3, 1e-5 for llama
  std::string name;        // general.name; empty: "<arch> random-weight model (seed N)"
  // Mixture of experts (qwen3moe, deepseek2): experts of width expert_ffn, experts_used per
  // token; deepseek2 adds shared experts, expert groups and leading dense layers (FFN `ffn`).
  int experts = 0;
  int experts_used = 0;
  int expert_ffn = 0;
  int shared_experts = 0;
  int expert_groups = 0;
  int expert_groups_used = 0;
  int dense_layers = 0;
  // <arch>.pooling_type for an embedding model (llama.cpp's numbers: 1 mean, 3 last); -1: none.
  int pooling_type = -1;
  // Multi-head latent attention (deepseek2; `heads` query heads, kv_heads unused): DeepSeek-V3's
  // keys (YaRN factor 40 over 4096 positions, sigmoid routing with a score bias, weights scaled
  // by 2.5) as its converter writes them.
  int q_lora = 0;
  int kv_lora = 0;
  int qk_nope = 0;
  int qk_rope = 0;
  int v_head = 0;
};

// Uses a thread pool of up to 4 threads.
Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path);
Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path, ThreadPool& pool);

}  // namespace llmux::convert
