#include "engine/backend/cpu/packed_weights.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "engine/backend/cpu/kernels/panels16.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux {

namespace {

constexpr size_t kRegionBytes = size_t{64} << 20;

// MemAvailable of /proc/meminfo in bytes; 0 where it cannot be read.
size_t AvailableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  while (in >> key) {
    if (key == "MemAvailable:" && (in >> kib)) return kib * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

// A row-major copy must leave this much memory available: the KV cache, activations and the
// rest of the process are allocated after the weights. A model that does not fit beside it
// keeps its remaining weights in the file mapping, where the kernel can page them.
constexpr size_t kKeepAvailable = size_t{1} << 30;

}  // namespace

Result<void*> PackedWeights::Allocate(size_t size) {
  size = (size + 63) / 64 * 64;
  if (regions_.empty() || regions_.back().size() - region_used_ < size) {
    HugePageBuffer region(
        std::max(kRegionBytes, (size + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes));
    if (region.data() == nullptr) {
      return ResourceExhaustedError("cannot allocate " + std::to_string(size) +
                                    " bytes for the weights");
    }
    regions_.push_back(std::move(region));
    region_used_ = 0;
  }
  void* data = static_cast<uint8_t*>(regions_.back().data()) + region_used_;
  region_used_ += size;
  bytes_ += size;
  return data;
}

bool PackedWeights::RoomForCopy(size_t size) {
  if (!TransparentHugePagesOffered()) return false;
  if (available_ == kUnknown) available_ = AvailableMemoryBytes();  // once; copies take theirs off
  return available_ >= size + kKeepAvailable;
}

Status PackedWeights::Pack(kernels::MatrixView* w, int64_t slice_rows, ThreadPool& pool) {
  if (w->data == nullptr || w->rows <= 0 || w->layout != kernels::WeightLayout::kRowMajor) {
    return Status::Ok();
  }
  // Q4_0 goes to 16-row panels when every slice starts at a panel; Q6_K to the lanes layout,
  // which keeps rows whole (any slice works, and Embed reads it).
  const bool panels =
      kernels::CanPackPanels16(*w) && slice_rows > 0 && slice_rows % kernels::kPanel16Rows == 0;
  const bool lanes = kernels::CanPackQ6KLanes(*w);
  const size_t row_major_size = w->row_bytes * static_cast<size_t>(w->rows);
  if (!panels && !lanes && !RoomForCopy(row_major_size)) return Status::Ok();
  const size_t size = panels  ? kernels::Panels16Bytes(*w)
                      : lanes ? kernels::Q6KLanesBytes(*w)
                              : row_major_size;
  LLMUX_ASSIGN_OR_RETURN(void* data, Allocate(size));
  const kernels::MatrixView source = *w;
  if (panels) {
    *w = kernels::PackPanels16(source, data, pool);
  } else if (lanes) {
    *w = kernels::PackQ6KLanes(source, data, pool);
  } else {
    // Both threads fault pages in and copy (a huge page each at a time).
    const auto* src = static_cast<const uint8_t*>(source.data);
    auto* dst = static_cast<uint8_t*>(data);
    const int64_t chunks = static_cast<int64_t>((size + kHugePageBytes - 1) / kHugePageBytes);
    pool.ParallelFor(chunks, 1, [&](int64_t i) {
      const size_t at = static_cast<size_t>(i) * kHugePageBytes;
      std::memcpy(dst + at, src + at, std::min(kHugePageBytes, size - at));
    });
    w->data = data;
    row_major_bytes_ += size;
    available_ -= size;
  }
  return Status::Ok();
}

}  // namespace llmux
