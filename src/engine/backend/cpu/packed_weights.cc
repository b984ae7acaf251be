#include "engine/backend/cpu/packed_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "engine/backend/cpu/kernels/panels16.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux {

PackedWeights::~PackedWeights() {
  for (const Region& r : regions_) munmap(r.data, r.size);
}

Status PackedWeights::Pack(kernels::MatrixView* w, int64_t slice_rows, ThreadPool& pool) {
  // Q4_0 goes to 16-row panels when every slice starts at a panel; Q6_K to the lanes layout,
  // which keeps rows whole (any slice works).
  const bool panels =
      kernels::CanPackPanels16(*w) && slice_rows > 0 && slice_rows % kernels::kPanel16Rows == 0;
  const bool lanes = kernels::CanPackQ6KLanes(*w) && slice_rows > 0;
  if (!panels && !lanes) return Status::Ok();
  const size_t size = panels ? kernels::Panels16Bytes(*w) : kernels::Q6KLanesBytes(*w);
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    return ResourceExhaustedError("cannot allocate " + std::to_string(size) +
                                  " bytes for packed weights");
  }
  // Huge pages: decode streams every weight once per token, and 4 KiB pages would cost a
  // TLB walk every 4 KiB of it. Advisory; ignored where transparent huge pages are off.
  madvise(data, size, MADV_HUGEPAGE);
  regions_.push_back({data, size});
  bytes_ += size;
  const kernels::MatrixView source = *w;
  *w = panels ? kernels::PackPanels16(source, data, pool)
              : kernels::PackQ6KLanes(source, data, pool);
  // The source is only read again if a caller still holds the old view (none should). Its
  // whole pages go back (MADV_PAGEOUT never loses data: file pages are re-read on access,
  // anonymous ones stay); a kernel without MADV_PAGEOUT simply keeps them.
#ifdef MADV_PAGEOUT
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(source.data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last =
      (begin + source.row_bytes * static_cast<size_t>(source.rows)) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_PAGEOUT);
#endif
  return Status::Ok();
}

}  // namespace llmux
