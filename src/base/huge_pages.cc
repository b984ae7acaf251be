#include "base/huge_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>

namespace llmux {

HugePageBuffer::HugePageBuffer(size_t size) {
  if (size == 0 || size > SIZE_MAX / 2) return;
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  // Map a huge page more and trim both ends, so the buffer starts at a huge-page boundary.
  const size_t span = size + kHugePageBytes;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (begin + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (start > begin) munmap(p, start - begin);
  const size_t tail = begin + span - (start + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(start + size), tail);
  data_ = reinterpret_cast<void*>(start);
  size_ = size;
  madvise(data_, size_, MADV_HUGEPAGE);  // advisory: ignored where huge pages are off
}

HugePageBuffer::~HugePageBuffer() {
  if (data_ != nullptr) munmap(data_, size_);
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

bool TransparentHugePagesOffered() {
  static const bool offered = [] {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(in, line);
    return line.find("[always]") != std::string::npos ||
           line.find("[madvise]") != std::string::npos;
  }();
  return offered;
}

}  // namespace llmux
