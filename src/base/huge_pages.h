// Anonymous memory for large buffers that are streamed again and again (model weights, the
// KV cache): mapped at a 2 MiB boundary and advised for transparent huge pages, so a pass
// through it costs a TLB walk every 2 MiB instead of every 4 KiB. Pages take memory only once
// written.
#pragma once

#include <cstddef>

namespace llmux {

constexpr size_t kHugePageBytes = size_t{2} << 20;  // a transparent huge page on x86-64

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // data() is nullptr when the memory cannot be mapped. Its contents start zero.
  explicit HugePageBuffer(size_t size);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Whether the kernel backs memory advised with MADV_HUGEPAGE by transparent huge pages
// (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise").
bool TransparentHugePagesOffered();

}  // namespace llmux
