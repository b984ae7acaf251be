// Handing back the pages of a read-only file mapping that the process no longer reads.
#pragma once

#include <cstddef>

namespace llmux {

// Drops the whole pages of [data, data + size), clamped to the mapping [map, map + map_size),
// from the process (MADV_DONTNEED). Pages only partly inside the range stay, so the bytes of
// neighbouring data remain mapped. For a private mapping of a file the process never wrote
// nothing is lost: the pages stay in the page cache and a later read maps them again without
// touching the disk (MADV_PAGEOUT would evict them from the page cache as well).
// Never call it on memory the process wrote: an anonymous or written page reads back as zeros.
void ReleaseMappedPages(const void* map, size_t map_size, const void* data, size_t size);

}  // namespace llmux
