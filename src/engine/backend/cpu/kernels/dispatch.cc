// Run-time selection of the kernel set from the CPU's features.
#include <atomic>

#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

namespace {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;  // F, BW, VL, DQ and VNNI (our AVX-512 kernels need all of them)
  bool avx512_bf16 = false;
  bool gfni = false;
};

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vnni");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.gfni = __builtin_cpu_supports("gfni");
#endif
  return f;
}

const CpuFeatures& Features() {
  static const CpuFeatures f = Detect();
  return f;
}

// Fills null entries of `ks` from `lower`.
void FillGaps(KernelSet* ks, const KernelSet& lower) {
  for (int i = 0; i < kNumWTypes; ++i) {
    if (!ks->gemm[i]) ks->gemm[i] = lower.gemm[i];
  }
  for (int i = 0; i < kNumActKinds; ++i) {
    if (!ks->act_quant[i]) ks->act_quant[i] = lower.act_quant[i];
  }
  if (!ks->dot_f32) ks->dot_f32 = lower.dot_f32;
  if (!ks->axpy_f32) ks->axpy_f32 = lower.axpy_f32;
  if (!ks->f16_to_f32) ks->f16_to_f32 = lower.f16_to_f32;
}

struct Tables {
  KernelSet scalar, avx2, avx512;
  Tables() {
    FillScalarKernels(&scalar);
    avx2 = scalar;
    avx512 = scalar;
    const CpuFeatures& f = Features();
    if (f.avx2) {
      avx2 = KernelSet{};
      FillAvx2Kernels(&avx2);
      avx2.isa = Isa::kAvx2;
      FillGaps(&avx2, scalar);
    }
    if (f.avx512) {
      avx512 = KernelSet{};
      FillAvx512Kernels(&avx512, f.avx512_bf16, f.gfni);
      avx512.isa = Isa::kAvx512;
      FillGaps(&avx512, avx2);
    }
  }
};

const Tables& GetTables() {
  static const Tables t;
  return t;
}

bool Supported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return Features().avx2;
    case Isa::kAvx512:
      return Features().avx512;
  }
  return false;
}

std::atomic<int> g_forced{-1};

}  // namespace

bool CpuHasGfni() { return Features().gfni; }

Isa DetectedIsa() {
  const CpuFeatures& f = Features();
  if (f.avx512) return Isa::kAvx512;
  if (f.avx2) return Isa::kAvx2;
  return Isa::kScalar;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

void SetIsaForTesting(Isa isa) {
  if (Supported(isa)) g_forced.store(static_cast<int>(isa), std::memory_order_relaxed);
}

const KernelSet& KernelsFor(Isa isa) {
  const Tables& t = GetTables();
  if (!Supported(isa)) return t.scalar;
  switch (isa) {
    case Isa::kAvx512:
      return t.avx512;
    case Isa::kAvx2:
      return t.avx2;
    default:
      return t.scalar;
  }
}

Isa ActiveIsa() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<Isa>(forced) : DetectedIsa();
}

const KernelSet& ActiveKernels() { return KernelsFor(ActiveIsa()); }

}  // namespace llmux::kernels
