#include "engine/convert/hf_tensor_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/mapped_pages.h"
#include "engine/convert/hf_dtype.h"

namespace llmux::convert {

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot stat '" + path + "': " + std::strerror(err));
    }
    auto f = std::unique_ptr<MappedFile>(new MappedFile());
    f->size_ = static_cast<uint64_t>(st.st_size);
    if (f->size_ > 0) {
      void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return IoError("cannot map '" + path + "': " + std::strerror(err));
      }
      f->base_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return f;
  }
  ~MappedFile() {
    if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
  }
  const uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }

  // The import read tensor [offset, offset + n) and will not read it again.
  void Release(uint64_t offset, uint64_t n) const {
    if (offset < size_) ReleaseMappedPages(base_, size_, base_ + offset, n);
  }

 private:
  MappedFile() = default;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

HfFiles::HfFiles() = default;
HfFiles::~HfFiles() = default;

Result<MappedFile*> HfFiles::Map(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second.get();
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> f, MappedFile::Open(path));
  MappedFile* raw = f.get();
  files_.emplace(path, std::move(f));
  return raw;
}

Result<const uint8_t*> HfFiles::Data(const HfTensor& t) {
  LLMUX_ASSIGN_OR_RETURN(MappedFile * f, Map(t.file));
  if (t.offset > f->size() || t.nbytes > f->size() - t.offset) {
    return DataLossError("'" + t.file + "': tensor '" + t.name + "' ends past the end of the file");
  }
  return f->base() + t.offset;
}

void HfFiles::Release(const HfTensor& t) {
  auto it = files_.find(t.file);
  if (it != files_.end()) it->second->Release(t.offset, t.nbytes);
}

namespace {

Result<int64_t> Elements(const HfTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) {
    if (d < 0 || (d > 0 && n > INT64_MAX / d)) {
      return DataLossError("'" + t.file + "': tensor '" + t.name + "' has an invalid shape");
    }
    n *= d;
  }
  return n;
}

}  // namespace

Result<HfMatrix> HfMatrix::Open(HfFiles& files, const HfTensor& t, const BlockScale& scale) {
  const std::string where = "'" + t.file + "': tensor '" + t.name + "'";
  if (!CanDecodeHfDType(t.dtype)) {
    return UnimplementedError(where + " has dtype " + t.dtype +
                              "; only F32, F16, BF16, F8_E4M3 and F8_E5M2 weights are imported");
  }
  HfMatrix m;
  m.tensor_ = &t;
  m.elem_size_ = *SafetensorsDTypeSize(t.dtype);
  LLMUX_ASSIGN_OR_RETURN(int64_t n, Elements(t));
  m.cols_ = t.shape.empty() ? 1 : t.shape.back();
  m.rows_ = m.cols_ == 0 ? 0 : n / m.cols_;
  if (static_cast<uint64_t>(n) * m.elem_size_ != t.nbytes) {
    return DataLossError(where + ": " + std::to_string(t.nbytes) + " bytes for " +
                         std::to_string(n) + " elements of " + t.dtype);
  }
  LLMUX_ASSIGN_OR_RETURN(m.data_, files.Data(t));

  const bool fp8 = IsFp8DType(t.dtype);
  if (fp8 != (scale.scale != nullptr)) {
    return InvalidArgumentError(where + (fp8 ? " is FP8 but has no weight_scale_inv tensor"
                                             : " has a weight_scale_inv but is not FP8"));
  }
  if (fp8) {
    const HfTensor& s = *scale.scale;
    if (scale.block_rows <= 0 || scale.block_cols <= 0) {
      return InvalidArgumentError(where + ": the FP8 block size must be positive");
    }
    const int64_t want_rows = (m.rows_ + scale.block_rows - 1) / scale.block_rows;
    const int64_t want_cols = (m.cols_ + scale.block_cols - 1) / scale.block_cols;
    if (t.shape.size() != 2 || s.shape.size() != 2 || s.shape[0] != want_rows ||
        s.shape[1] != want_cols) {
      return InvalidArgumentError(where + ": its scale '" + s.name + "' must be a " +
                                  std::to_string(want_rows) + " x " + std::to_string(want_cols) +
                                  " grid (blocks of " + std::to_string(scale.block_rows) + " x " +
                                  std::to_string(scale.block_cols) + " over a 2-D weight)");
    }
    LLMUX_ASSIGN_OR_RETURN(HfMatrix sm, Open(files, s));
    if (IsFp8DType(s.dtype)) {
      return InvalidArgumentError(where + ": its scale '" + s.name + "' is FP8");
    }
    m.scales_.resize(static_cast<size_t>(want_rows * want_cols));
    for (int64_t r = 0; r < want_rows; ++r) sm.Row(r, m.scales_.data() + r * want_cols);
    m.scale_cols_ = want_cols;
    m.block_rows_ = scale.block_rows;
    m.block_cols_ = scale.block_cols;
  }
  return m;
}

void HfMatrix::Row(int64_t r, float* out) const {
  DecodeHfRow(tensor_->dtype, data_ + static_cast<size_t>(r * cols_) * elem_size_, out, cols_);
  if (scales_.empty()) return;
  const float* srow = scales_.data() + (r / block_rows_) * scale_cols_;
  for (int64_t c = 0; c < cols_; ++c) out[c] *= srow[c / block_cols_];
}

}  // namespace llmux::convert
