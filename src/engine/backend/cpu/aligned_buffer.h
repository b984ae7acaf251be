// A fixed-size, 64-byte aligned, zero-initialised array for activations and scratch.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace llmux {

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Returns false if the allocation failed.
  bool Allocate(size_t n) {
    data_.reset(
        static_cast<T*>(::operator new(n * sizeof(T) + 1, std::align_val_t(64), std::nothrow)));
    size_ = data_ ? n : 0;
    if (data_) std::memset(static_cast<void*>(data_.get()), 0, n * sizeof(T));
    return data_ != nullptr || n == 0;
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete(p, std::align_val_t(64)); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

}  // namespace llmux
