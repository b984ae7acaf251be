#include "engine/backend/cpu/kernels/q6k_lanes.h"

#include <cstring>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

namespace {

constexpr size_t kBlockBytes = sizeof(BlockQ6_K);

size_t RoundUp64(size_t n) { return (n + 63) / 64 * 64; }

// The code (q + 32) of element e of a Q6_K block: within each half of 128, element
// 32 g + l takes a nibble of ql[l + 32 (g & 1)] (the high one for g >= 2) and bits 2g, 2g + 1
// of qh[l].
uint8_t Q6KCode(const BlockQ6_K& b, int e) {
  const int h = e / 128, g = (e % 128) / 32, l = e % 32;
  const uint8_t ql = b.ql[64 * h + l + 32 * (g & 1)];
  const int nibble = g >= 2 ? ql >> 4 : ql & 0x0F;
  const int high = (b.qh[32 * h + l] >> (2 * g)) & 3;
  return static_cast<uint8_t>(nibble | high << 4);
}

void SetQ6KCode(BlockQ6_K* b, int e, uint8_t code) {
  const int h = e / 128, g = (e % 128) / 32, l = e % 32;
  b->ql[64 * h + l + 32 * (g & 1)] |= static_cast<uint8_t>((code & 0x0F) << (g >= 2 ? 4 : 0));
  b->qh[32 * h + l] |= static_cast<uint8_t>((code >> 4) << (2 * g));
}

// Element of the block that byte p of code vector k holds.
int LaneElement(int k, int p) { return 16 * (p / 4) + 4 * k + p % 4; }

}  // namespace

bool CanPackQ6KLanes(const MatrixView& w) {
  return w.layout == WeightLayout::kRowMajor && w.type == DType::kQ6_K && w.cols > 0 &&
         w.cols % kQKK == 0 && w.rows > 0 &&
         w.row_bytes == static_cast<size_t>(w.cols / kQKK) * kBlockBytes &&
         ActiveIsa() == Isa::kAvx512 && CpuHasGfni();
}

size_t Q6KLanesRowBytes(int64_t cols) { return static_cast<size_t>(cols / kQKK) * kBlockBytes; }

size_t Q6KLanesBytes(const MatrixView& w) {
  return Q6KLanesRowBytes(w.cols) * static_cast<size_t>(w.rows);
}

MatrixView PackQ6KLanes(const MatrixView& w, void* out, ThreadPool& pool) {
  const int64_t nb = w.cols / kQKK;
  const size_t row_bytes = Q6KLanesRowBytes(w.cols);
  auto* dst = static_cast<uint8_t*>(out);
  const auto* src = static_cast<const uint8_t*>(w.data);
  pool.ParallelFor(w.rows, 64, [&](int64_t r) {
    const auto* in = reinterpret_cast<const BlockQ6_K*>(src + static_cast<size_t>(r) * w.row_bytes);
    uint8_t* row = dst + static_cast<size_t>(r) * row_bytes;
    std::memset(row, 0, row_bytes);
    uint8_t* scales = row + nb * kQ6KLanesCodeBytes;
    uint8_t* d = scales + nb * 16;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* codes = row + b * kQ6KLanesCodeBytes;
      for (int p = 0; p < 64; ++p) {
        const uint8_t v3 = Q6KCode(in[b], LaneElement(3, p));
        for (int k = 0; k < 3; ++k) {
          codes[64 * k + p] =
              static_cast<uint8_t>(Q6KCode(in[b], LaneElement(k, p)) | ((v3 >> (2 * k)) & 3) << 6);
        }
      }
      std::memcpy(scales + 16 * b, in[b].scales, 16);
      std::memcpy(d + 2 * b, &in[b].d, 2);
    }
  });
  MatrixView v = w;
  v.data = out;
  v.row_bytes = row_bytes;
  v.layout = WeightLayout::kQ6KLanes;
  return v;
}

namespace {

// Block b of row r of a lanes-layout matrix back in the Q6_K encoding.
void UnpackQ6KLanesBlock(const MatrixView& packed, int64_t r, int64_t b, BlockQ6_K* blk) {
  const int64_t nb = packed.cols / kQKK;
  const uint8_t* in =
      static_cast<const uint8_t*>(packed.data) + static_cast<size_t>(r) * packed.row_bytes;
  const uint8_t* scales = in + nb * kQ6KLanesCodeBytes;
  const uint8_t* d = scales + nb * 16;
  std::memset(blk, 0, sizeof(*blk));
  const uint8_t* codes = in + b * kQ6KLanesCodeBytes;
  for (int p = 0; p < 64; ++p) {
    uint8_t v3 = 0;
    for (int k = 0; k < 3; ++k) {
      SetQ6KCode(blk, LaneElement(k, p), codes[64 * k + p] & 0x3F);
      v3 = static_cast<uint8_t>(v3 | (codes[64 * k + p] >> 6) << (2 * k));
    }
    SetQ6KCode(blk, LaneElement(3, p), v3);
  }
  std::memcpy(blk->scales, scales + 16 * b, 16);
  std::memcpy(&blk->d, d + 2 * b, 2);
}

}  // namespace

void UnpackQ6KLanesRow(const MatrixView& packed, int64_t r, uint8_t* row) {
  auto* out = reinterpret_cast<BlockQ6_K*>(row);
  for (int64_t b = 0; b < packed.cols / kQKK; ++b) UnpackQ6KLanesBlock(packed, r, b, &out[b]);
}

void DequantizeQ6KLanesRow(const MatrixView& packed, int64_t r, float* out) {
  for (int64_t b = 0; b < packed.cols / kQKK; ++b) {
    BlockQ6_K blk;
    UnpackQ6KLanesBlock(packed, r, b, &blk);
    DequantizeRow(DType::kQ6_K, &blk, out + b * kQKK, kQKK);
  }
}

size_t Q8KLanesOffset(int64_t cols) {
  return RoundUp64(static_cast<size_t>(cols / kQKK) * sizeof(BlockQ8_K));
}

size_t Q8KLanesRowBytes(int64_t cols) {
  return Q8KLanesOffset(cols) + static_cast<size_t>(cols / kQKK) * kQ8KLanesBlockBytes;
}

void AppendQ8KLanes(int64_t cols, uint8_t* row) {
  const int64_t nb = cols / kQKK;
  const auto* x = reinterpret_cast<const BlockQ8_K*>(row);
  uint8_t* lanes = row + Q8KLanesOffset(cols);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* out = lanes + b * kQ8KLanesBlockBytes;
    for (int k = 0; k < 4; ++k) {
      for (int i = 0; i < 16; ++i) std::memcpy(out + 64 * k + 4 * i, x[b].qs + 16 * i + 4 * k, 4);
    }
    for (int i = 0; i < 16; ++i) {
      const int32_t bias = -32 * static_cast<int32_t>(x[b].bsums[i]);
      std::memcpy(out + 256 + 4 * i, &bias, 4);
    }
  }
}

}  // namespace llmux::kernels
