#include "engine/backend/cpu/kernels/panels16.h"

#include <cstring>

#include "engine/backend/cpu/kernels/blocks.h"

namespace llmux::kernels {

namespace {

constexpr int64_t kBlockBytes = 18;  // Q4_0: f16 scale, 16 code bytes

uint8_t* PanelPair(uint8_t* base, const MatrixView& w, int64_t panel, int64_t pair) {
  return base + static_cast<size_t>(panel) * kPanel16Rows * w.row_bytes +
         static_cast<size_t>(pair) * kPanel16PairBytes;
}

}  // namespace

bool CanPackPanels16(const MatrixView& w) {
  return w.layout == WeightLayout::kRowMajor && w.type == DType::kQ4_0 && w.cols > 0 &&
         w.cols % 64 == 0 && w.rows >= kPanel16Rows &&
         w.row_bytes == static_cast<size_t>(w.cols / kQK * kBlockBytes) &&
         (ActiveIsa() == Isa::kAvx512 || ActiveIsa() == Isa::kAvx2);
}

size_t Panels16Bytes(const MatrixView& w) {
  const int64_t panels = (w.rows + kPanel16Rows - 1) / kPanel16Rows;
  return static_cast<size_t>(panels) * kPanel16Rows * w.row_bytes;
}

MatrixView PackPanels16(const MatrixView& w, void* out, ThreadPool& pool) {
  const int64_t n_pairs = w.cols / (2 * kQK);
  const int64_t panels = (w.rows + kPanel16Rows - 1) / kPanel16Rows;
  auto* dst = static_cast<uint8_t*>(out);
  const auto* src = static_cast<const uint8_t*>(w.data);
  pool.ParallelFor(panels, 1, [&](int64_t p) {
    std::memset(PanelPair(dst, w, p, 0), 0, kPanel16Rows * w.row_bytes);
    for (int64_t i = 0; i < kPanel16Rows && p * kPanel16Rows + i < w.rows; ++i) {
      const uint8_t* row = src + static_cast<size_t>(p * kPanel16Rows + i) * w.row_bytes;
      for (int64_t k = 0; k < n_pairs; ++k) {
        uint8_t* pair = PanelPair(dst, w, p, k);
        for (int h = 0; h < 2; ++h) {
          const uint8_t* block = row + (2 * k + h) * kBlockBytes;
          std::memcpy(pair + 32 * h + 2 * i, block, 2);
          for (int c = 0; c < 4; ++c)
            std::memcpy(pair + 64 + 256 * h + 64 * c + 4 * i, block + 2 + 4 * c, 4);
        }
      }
    }
  });
  MatrixView v = w;
  v.data = out;
  v.layout = WeightLayout::kPanels16;
  return v;
}

void UnpackPanels16Row(const MatrixView& packed, int64_t r, uint8_t* row) {
  const int64_t n_pairs = packed.cols / (2 * kQK);
  auto* base = const_cast<uint8_t*>(static_cast<const uint8_t*>(packed.data));
  const int64_t p = r / kPanel16Rows, i = r % kPanel16Rows;
  for (int64_t k = 0; k < n_pairs; ++k) {
    const uint8_t* pair = PanelPair(base, packed, p, k);
    for (int h = 0; h < 2; ++h) {
      uint8_t* block = row + (2 * k + h) * kBlockBytes;
      std::memcpy(block, pair + 32 * h + 2 * i, 2);
      for (int c = 0; c < 4; ++c)
        std::memcpy(block + 2 + 4 * c, pair + 64 + 256 * h + 64 * c + 4 * i, 4);
    }
  }
}

}  // namespace llmux::kernels
