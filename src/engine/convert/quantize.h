// Re-encodes a model's weights (like llama.cpp's llama-quantize without an importance matrix).
#pragma once

#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/convert/progress.h"
#include "engine/convert/tensor_types.h"
#include "engine/gguf/gguf_reader.h"

namespace llmux::convert {

// Writes `in` to out_path with its weight matrices converted to `target` (per-tensor types from
// PlanTensorTypes). Source tensors of any decodable type are converted through F32; a tensor
// that already has its output type is copied unchanged. All metadata is kept, except that
// general.quantization_version (2) and general.file_type are set and moved to the end, and
// tensors are written in llama.cpp's order (non-layer tensors, then by layer, then by name),
// as llama-quantize does. Tensors are converted one at a time, so memory use stays near the
// size of the largest output tensor. `progress`, if set, is called after each tensor.
Status QuantizeModel(const gguf::GgufFile& in, const std::string& out_path, QuantizeTarget target,
                     ThreadPool& pool, const QuantizeOptions& options = {},
                     const ProgressFn& progress = {});

}  // namespace llmux::convert
