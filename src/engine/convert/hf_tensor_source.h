// Reads the tensors of .safetensors files row by row, on demand: each file is mapped read-only
// once, a tensor's rows are decoded to F32 only when asked for, and Release() drops a tensor's
// pages again, so importing a checkpoint larger than memory keeps memory near one tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/convert/hf_checkpoint.h"

namespace llmux::convert {

class MappedFile;

// The files of a checkpoint, each mapped when first needed.
class HfFiles {
 public:
  HfFiles();
  ~HfFiles();
  HfFiles(const HfFiles&) = delete;
  HfFiles& operator=(const HfFiles&) = delete;

  // The bytes of `t`, checked again against the file (size and range).
  Result<const uint8_t*> Data(const HfTensor& t);
  // Tells the kernel that `t`'s pages are not needed any more.
  void Release(const HfTensor& t);

 private:
  Result<MappedFile*> Map(const std::string& path);
  std::map<std::string, std::unique_ptr<MappedFile>> files_;
};

// FP8 block scaling: each weight element is multiplied by scale_inv[row / rows][col / cols].
struct BlockScale {
  const HfTensor* scale = nullptr;  // 2-D F32/BF16/F16 tensor: ceil(rows/bs) x ceil(cols/bs)
  int64_t block_rows = 128;
  int64_t block_cols = 128;
};

// One tensor as a matrix of rows x cols F32 values (cols = the last dimension; a 1-D tensor is
// one row), decoded on demand.
class HfMatrix {
 public:
  // Fails (naming the tensor) for a dtype it cannot decode or a scale of the wrong shape.
  static Result<HfMatrix> Open(HfFiles& files, const HfTensor& t, const BlockScale& scale = {});

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Writes row r (0 <= r < rows()) as cols() floats. Safe to call from several threads.
  void Row(int64_t r, float* out) const;
  const HfTensor& tensor() const { return *tensor_; }

 private:
  const HfTensor* tensor_ = nullptr;
  const uint8_t* data_ = nullptr;
  size_t elem_size_ = 0;
  int64_t rows_ = 0, cols_ = 0;
  // Dequantized scale grid (FP8 only), row-major, scale_cols_ per row.
  std::vector<float> scales_;
  int64_t scale_cols_ = 0, block_rows_ = 0, block_cols_ = 0;
};

}  // namespace llmux::convert
