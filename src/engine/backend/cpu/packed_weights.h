// Copies of weight matrices in the layouts the CPU kernels read fastest (16-row Q4_0 panels,
// kernels/panels16.h; Q6_K in sub-block lanes, kernels/q6k_lanes.h), made once at load and owned
// here for the backend's lifetime.
#pragma once

#include <cstddef>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux {

class PackedWeights {
 public:
  PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights();

  // Replaces *w by a packed copy when the kernels have a faster layout for it and every
  // slice a caller takes (ExpertMatrix of slice_rows rows) starts at a panel boundary;
  // otherwise leaves it. The source pages are then handed back to the kernel (they are
  // clean file pages: reading them again would only fault them in).
  Status Pack(kernels::MatrixView* w, int64_t slice_rows, ThreadPool& pool);
  size_t bytes() const { return bytes_; }

 private:
  struct Region {
    void* data;
    size_t size;
  };
  std::vector<Region> regions_;
  size_t bytes_ = 0;
};

}  // namespace llmux
