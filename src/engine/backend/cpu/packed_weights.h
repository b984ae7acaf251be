// The CPU backend's own copies of weight matrices, made once at load and owned here for the
// backend's lifetime: in the layouts the kernels read fastest (16-row Q4_0 panels,
// kernels/panels16.h; Q6_K in sub-block lanes, kernels/q6k_lanes.h), or else row for row on
// transparent huge pages. Decode streams every weight once per token; from a file mapping's
// 4 KiB pages that costs a TLB walk every 4 KiB (docs/performance.md measures the difference).
#pragma once

#include <cstddef>
#include <vector>

#include "base/huge_pages.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux {

class PackedWeights {
 public:
  PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  // Replaces *w by a copy of its own when it can make one:
  // - in a faster layout, when the kernels have one and every slice a caller takes
  //   (ExpertMatrix of slice_rows rows) starts at a panel boundary; slice_rows 0: the matrix
  //   is also read by row (a tied embedding table), so only Q6_K lanes, which keep rows whole
  //   and which Embed reads, are made;
  // - otherwise row-major on huge pages, when the kernel offers transparent huge pages and
  //   the copy leaves enough memory free (else *w stays in the file mapping).
  // The source stays where it is: its owner may release it (GgufFile::ReleasePages) once
  // w->data has moved.
  Status Pack(kernels::MatrixView* w, int64_t slice_rows, ThreadPool& pool);
  size_t bytes() const { return bytes_; }
  size_t row_major_bytes() const { return row_major_bytes_; }  // of bytes(): plain copies

 private:
  // `size` writable bytes at a cache-line boundary. Copies are laid one after another in
  // regions of whole huge pages (most matrices are smaller than one).
  Result<void*> Allocate(size_t size);
  // Whether a row-major copy of `size` bytes is worth making: huge pages are offered and it
  // leaves enough memory available.
  bool RoomForCopy(size_t size);

  std::vector<HugePageBuffer> regions_;
  size_t region_used_ = 0;  // of regions_.back()
  size_t bytes_ = 0;
  size_t row_major_bytes_ = 0;
  // Memory available for row-major copies: MemAvailable when the first was considered, less
  // the copies made since (conservative: the file pages they replace are released).
  static constexpr size_t kUnknown = ~size_t{0};
  size_t available_ = kUnknown;
};

}  // namespace llmux
