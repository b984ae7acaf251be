// Which GGUF tensors a checkpoint becomes and how each is made from its source tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/convert/hf_checkpoint.h"
#include "engine/convert/hf_metadata.h"

namespace llmux::convert {

enum class HfTransform {
  kCopy,          // rows as they are
  kPermuteRope,   // llama q/k: rotate-half rows -> adjacent pairs, per head (n_heads)
  kStackExperts,  // sources[e] is expert e; output row = e * rows + r
  kKvbToKb,       // kv_b_proj -> attn_k_b (per head, transposed)
  kKvbToVb,       // kv_b_proj -> attn_v_b (per head)
  kGenerated,     // no source: `values` (llama 3's rope_freqs)
};

struct HfSource {
  const HfTensor* tensor = nullptr;
  const HfTensor* scale = nullptr;  // weight_scale_inv of an FP8 tensor
};

struct PlannedTensor {
  std::string name;         // GGUF name
  std::vector<int64_t> ne;  // ggml order
  HfTransform transform = HfTransform::kCopy;
  std::vector<HfSource> sources;
  int n_heads = 0;              // kPermuteRope, kKvbTo*
  int qk_nope = 0, v_head = 0;  // kKvbTo*
  std::vector<float> values;    // kGenerated: the whole tensor
};

// Maps, groups and checks the checkpoint's tensors (see hf_import.h), and adds the tensors the
// converter generates (llama 3's rope_freqs.weight). The plan is in llama.cpp's tensor order.
Result<std::vector<PlannedTensor>> PlanHfTensors(const HfCheckpoint& checkpoint,
                                                 const HfModelShape& shape);

}  // namespace llmux::convert
