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
  std::string arch = "qwen3";  // qwen3 | qwen2 | llama
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
};

// Uses a thread pool of up to 4 threads.
Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path);
Status CreateRandomModel(const RandomModelSpec& spec, const std::string& out_path, ThreadPool& pool);

}  // namespace llmux::convert
