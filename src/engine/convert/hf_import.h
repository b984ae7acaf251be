// Hugging Face checkpoint -> GGUF, as llama.cpp's convert_hf_to_gguf.py converts llama, qwen2,
// qwen3, qwen3moe and DeepSeek-V3 (deepseek2): its metadata keys, tensor names and per-tensor
// transforms, so that llama.cpp loads the result as well as llmux.
//
//  * Transforms: llama's q_proj/k_proj rows go back from Hugging Face's rotate-half order to
//    adjacent pairs (the converter's LlamaModel.permute); per-expert tensors are stacked into
//    3-D ffn_{gate,up,down}_exps (ne {cols, rows, n_expert}); DeepSeek's kv_b_proj is split per
//    head into attn_k_b (transposed: ne {qk_nope, kv_lora, n_head}) and attn_v_b (ne {kv_lora,
//    v_head, n_head}). Tied embeddings write no output.weight; layers past num_hidden_layers
//    (DeepSeek's multi-token-prediction layer) are left out.
//  * dtypes: F32, F16, BF16, and F8_E4M3 or F8_E5M2 with a <name>_scale_inv grid (DeepSeek-V3's
//    128 x 128 blocks, quantization_config.weight_block_size), dequantized: fp8 * scale_inv.
//  * Output types: PlanTensorTypes for the target; without one, matrices keep the checkpoint's
//    precision (F32, F16 or BF16; FP8 becomes BF16), and 1-D tensors and the MoE router are
//    always F32.
//  * Streaming: each output tensor is produced when the writer asks for it, its source rows
//    decoded from the mapped file one row at a time (kv_b, small, is decoded whole), and the
//    source pages are released afterwards.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/convert/hf_checkpoint.h"
#include "engine/convert/progress.h"
#include "engine/convert/tensor_types.h"

namespace llmux::convert {

struct HfImportOptions {
  std::optional<QuantizeTarget> target;  // nullopt: keep the checkpoint's precision
  std::string name;                      // general.name (omitted when empty)
  std::string tokenizer_pre;             // tokenizer.ggml.pre; empty: chosen from the tokenizer
  ProgressFn progress;
};

struct HfImportSummary {
  std::string arch;
  QuantizeTarget target = QuantizeTarget::kF32;
  int64_t n_tensors = 0;
  uint64_t n_bytes = 0;  // tensor data written
};

// Writes the GGUF. Fails before writing anything for an unsupported architecture, a tensor
// without a GGUF name, a missing tensor (named as in the checkpoint), a dtype that cannot be
// imported, a shape that does not fit the configuration, or a tokenizer that cannot be
// converted.
Result<HfImportSummary> ImportHfCheckpoint(const HfCheckpoint& checkpoint,
                                           const std::string& out_path, ThreadPool& pool,
                                           const HfImportOptions& options = {});

}  // namespace llmux::convert
