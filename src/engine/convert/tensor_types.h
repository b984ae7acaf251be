// Which type each tensor gets when a model is quantized: the rules of llama.cpp's
// llama-quantize (llama_tensor_get_type) for the targets we write.
//
//  * Only weight matrices are quantized: names ending in "weight" with two or more non-trivial
//    dimensions, except norms, the MoE router (ffn_gate_inp) and positional/token-type tables.
//    Everything else keeps its type (1-D norms and biases stay F32).
//  * f32/f16/bf16 targets and `pure` give every quantized tensor the target type.
//  * Quantized targets (q8_0, q4_0, q4_k_m) refine the type per tensor:
//      - output.weight (or token_embd.weight when there is no output.weight) gets Q6_K, or
//        Q8_0 when its rows are not a multiple of the default type's block, or stays Q8_0;
//      - q4_k_m: attn_v and ffn_down get Q6_K in "more bits" layers (first and last eighth of
//        the layers and every third layer in between);
//      - 8-expert MoE models: attn_v and attn_k get Q8_0; q4_k_m attn_output gets more bits
//        (llama.cpp uses Q5_K; we write Q6_K, which our kernels support);
//      - rows that are not a whole number of blocks fall back: Q4_K -> Q5_0, Q6_K -> Q8_0,
//        and anything still not fitting -> F16.
//  * token_embedding_type / output_tensor_type override the result, as the llama-quantize
//    options of the same names do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor/dtype.h"

namespace llmux::convert {

enum class QuantizeTarget { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K_M };

// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m" (case-insensitive).
std::optional<QuantizeTarget> ParseQuantizeTarget(std::string_view name);
const char* QuantizeTargetName(QuantizeTarget target);
// llama.cpp's general.file_type number: F32=0, F16=1, Q4_0=2, Q8_0=7, Q4_K_M=15, BF16=32.
uint32_t FileTypeOf(QuantizeTarget target);
// The type most matrices get: F32, F16, BF16, Q8_0, Q4_0 or Q4_K.
DType DefaultType(QuantizeTarget target);

struct QuantizeOptions {
  bool pure = false;  // no per-tensor refinements (llama-quantize --pure)
  std::optional<DType> token_embedding_type;
  std::optional<DType> output_tensor_type;
};

struct TensorShape {
  std::string name;
  std::vector<int64_t> ne;
  DType type;  // current type
};

// True for the tensors llama-quantize converts (see above).
bool IsQuantizable(std::string_view name, const std::vector<int64_t>& ne);

// The output type of each tensor, given in the order they will be written (the layer counters
// of the rules follow that order). n_layer = <arch>.block_count, n_expert = <arch>.expert_count
// (0 for dense models).
std::vector<DType> PlanTensorTypes(const std::vector<TensorShape>& tensors, QuantizeTarget target,
                                   const QuantizeOptions& options, int n_layer, int n_expert);

// llama.cpp's tensor order for quantized files: tensors outside blk.N first, then by layer
// number, then by name.
bool LlamaCppTensorOrder(std::string_view a, std::string_view b);

// Layer number of "blk.N.…", or -1.
int LayerOf(std::string_view name);

}  // namespace llmux::convert
