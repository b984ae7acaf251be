// Progress of a long conversion (import, quantization), reported after each tensor is written.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace llmux::convert {

struct ConvertProgress {
  int64_t tensors_done = 0;
  int64_t tensors_total = 0;
  uint64_t bytes_done = 0;  // output bytes written so far
  uint64_t bytes_total = 0;
  std::string_view tensor;  // the tensor just written
};

using ProgressFn = std::function<void(const ConvertProgress&)>;

}  // namespace llmux::convert
