#include "base/mapped_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace llmux {

void ReleaseMappedPages(const void* map, size_t map_size, const void* data, size_t size) {
  if (map == nullptr || data == nullptr) return;
  const auto map_begin = reinterpret_cast<uintptr_t>(map);
  const uintptr_t map_end = map_begin + map_size;
  const auto data_begin = reinterpret_cast<uintptr_t>(data);
  // Clamp before adding, so a size reaching past the address space cannot wrap.
  if (data_begin >= map_end) return;
  const uintptr_t begin = std::max(data_begin, map_begin);
  const uintptr_t end = data_begin + std::min<uintptr_t>(size, map_end - data_begin);
  if (end <= begin) return;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = end / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace llmux
