// MatMul micro-benchmark: decode (1 token, weights streamed from DRAM) in GB/s and prefill
// (512 tokens) in GOPS, per weight type, for Qwen3-0.6B shapes. Prints figures; not a test.
//
//   matmul_bench [types=q8_0,q4_0,q4_0p,...] [threads=2] [isa=best|avx512|avx2|scalar]
//   [full|quick|prefill|multi]
//                [shape filter, e.g. 151936, or all] [footprint MiB=512]
//
// A small footprint (e.g. 1) keeps the weights in cache, which gives the kernels' compute
// rate: a decode kernel whose cached rate is far above its DRAM rate is memory-bound.
//
// Times are the fastest of many calls (the machine is shared; see TimeCalls).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/huge_pages.h"
#include "base/thread_pool.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/kernels/panels16.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

using namespace llmux;
using namespace llmux::kernels;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Shape {
  const char* name;
  int64_t cols, rows;
  int per_layer;  // how often a Qwen3-0.6B layer uses it (0 = output matrix, -1 = other model)
};

const Shape kShapes[] = {
    {"1024->3072 (ffn up/gate)", 1024, 3072, 2},
    {"3072->1024 (ffn down)", 3072, 1024, 1},
    {"1024->2048 (attn q)", 1024, 2048, 1},
    {"1024->1024 (attn k/v)", 1024, 1024, 2},
    {"2048->1024 (attn out)", 2048, 1024, 1},
    {"1024->151936 (output)", 1024, 151936, 0},
    // Other models' output matrices (Q6_K in their Q4_0 files), not part of the 0.6B estimate.
    {"7168->129280 (DeepSeek-V3 output)", 7168, 129280, -1},
    // Qwen3-30B-A3B's output matrix, rows of 8 super-blocks.
    {"2048->151936 (Qwen3-30B-A3B output)", 2048, 151936, -1},
};

// A weight matrix, replicated so that decode passes cycle through more memory than the
// last-level cache and really stream from DRAM; on huge pages, as the CPU backend keeps it.
struct Weights {
  HugePageBuffer data;
  size_t matrix_bytes;
  int copies;
  MatrixView View(int i) const {
    return MatrixView{type,      rows,  cols, base + static_cast<size_t>(i % copies) * matrix_bytes,
                      row_bytes, layout};
  }
  const uint8_t* base = nullptr;  // data, or its 16-row panel copy
  HugePageBuffer panels;
  WeightLayout layout = WeightLayout::kRowMajor;
  DType type;
  int64_t rows, cols;
  size_t row_bytes;
};

// The copies as one matrix in the layout the CPU backend would make: Q4_0 in 16-row panels
// (every shape here has a multiple of 16 rows, so each copy starts at a panel), Q6_K in
// sub-block lanes (rows padded to 64 bytes).
void PackWeights(Weights& w, WeightLayout layout, ThreadPool& pool) {
  const MatrixView all{w.type, w.rows * w.copies, w.cols, w.data.data(), w.row_bytes};
  const bool panels = layout == WeightLayout::kPanels16;
  if (panels ? !CanPackPanels16(all) : !CanPackQ6KLanes(all)) {
    std::fprintf(stderr, "these kernels do not take that layout for this type\n");
    std::exit(1);
  }
  const size_t bytes = panels ? Panels16Bytes(all) : Q6KLanesBytes(all);
  w.panels = HugePageBuffer(bytes);
  if (w.panels.data() == nullptr) std::abort();
  const MatrixView packed =
      panels ? PackPanels16(all, w.panels.data(), pool) : PackQ6KLanes(all, w.panels.data(), pool);
  w.base = static_cast<const uint8_t*>(packed.data);
  w.row_bytes = packed.row_bytes;
  w.matrix_bytes = packed.row_bytes * static_cast<size_t>(w.rows);
  w.layout = layout;
}

Weights MakeWeights(DType type, int64_t rows, int64_t cols, size_t min_footprint) {
  Weights w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.row_bytes = *RowBytes(type, cols);
  w.matrix_bytes = w.row_bytes * static_cast<size_t>(rows);
  w.copies =
      static_cast<int>(std::max<size_t>(1, (min_footprint + w.matrix_bytes - 1) / w.matrix_bytes));
  w.data = HugePageBuffer(w.matrix_bytes * w.copies);
  if (w.data.data() == nullptr) std::abort();
  auto* data = static_cast<uint8_t*>(w.data.data());
  // Quantize a few random rows, then tile them (quantizing 150k rows would take too long).
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  const int kDistinct = 16;
  std::vector<uint8_t> rows_q(w.row_bytes * kDistinct);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int r = 0; r < kDistinct; ++r) {
    for (auto& v : row) v = dist(rng);
    if (!QuantizeRow(type, row.data(), rows_q.data() + r * w.row_bytes, cols).ok()) std::abort();
  }
  for (size_t off = 0, r = 0; off < w.matrix_bytes * w.copies; off += w.row_bytes, ++r) {
    std::memcpy(data + off, rows_q.data() + (r % kDistinct) * w.row_bytes, w.row_bytes);
  }
  w.base = data;
  return w;
}

// Minimum over many timed calls: other jobs share this machine, and the fastest call is
// the best estimate of the undisturbed kernel.
template <typename Fn>
double TimeCalls(Fn fn, double min_seconds, int min_calls) {
  fn(0);  // warm-up
  double best = 1e30;
  const double start = Now();
  for (int calls = 1; calls <= min_calls || Now() - start < min_seconds; ++calls) {
    const double t0 = Now();
    fn(calls);
    best = std::min(best, Now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string types_arg = argc > 1 ? argv[1] : "q8_0,q4_0";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const std::string isa_arg = argc > 3 ? argv[3] : "best";
  const std::string mode = argc > 4 ? argv[4] : "full";
  const bool quick = mode == "quick";           // decode only
  const bool prefill_only = mode == "prefill";  // 512 tokens, layer shapes only
  // 8 decode tokens in one call (the single class: 8 sequences of continuous batching), layer
  // shapes only.
  const bool multi = mode == "multi";
  const std::string shape_filter = argc > 5 && std::strcmp(argv[5], "all") != 0 ? argv[5] : "";
  const size_t footprint_mib = argc > 6 ? std::strtoul(argv[6], nullptr, 10) : 512;
  if (isa_arg == "avx2") SetIsaForTesting(Isa::kAvx2);
  if (isa_arg == "scalar") SetIsaForTesting(Isa::kScalar);
  if (isa_arg == "avx512") SetIsaForTesting(Isa::kAvx512);
  // A type with a trailing "p" (q4_0p): the weights in 16-row panels, as the CPU backend
  // stores Q4_0 matrices; a trailing "l" (q6_kl): Q6_K in sub-block lanes.
  std::vector<std::pair<DType, WeightLayout>> types;
  for (size_t pos = 0; pos <= types_arg.size();) {
    size_t comma = types_arg.find(',', pos);
    if (comma == std::string::npos) comma = types_arg.size();
    std::string name = types_arg.substr(pos, comma - pos);
    WeightLayout layout = WeightLayout::kRowMajor;
    if (name.size() > 1 && (name.back() == 'p' || name.back() == 'l')) {
      layout = name.back() == 'p' ? WeightLayout::kPanels16 : WeightLayout::kQ6KLanes;
      name.pop_back();
    }
    auto t = ParseDType(name);
    if (!t || !MatMulSupports(*t)) {
      std::fprintf(stderr, "unknown type %s\n", types_arg.substr(pos, comma - pos).c_str());
      return 1;
    }
    types.emplace_back(*t, layout);
    pos = comma + 1;
  }
  ThreadPool pool(threads);
  const Isa isa = isa_arg == "best" ? DetectedIsa()
                                    : (isa_arg == "avx2"     ? Isa::kAvx2
                                       : isa_arg == "scalar" ? Isa::kScalar
                                                             : Isa::kAvx512);
  std::printf("isa=%s threads=%d (best of many calls)\n", IsaName(isa), threads);
  std::printf("%-6s %-26s %7s %10s %9s %9s\n", "type", "shape", "tokens", "ms/call", "GB/s",
              "GOPS");
  const int64_t kPrefill = 512, kMulti = 8;
  const size_t kFootprint = footprint_mib << 20;
  for (const auto& [type, layout] : types) {
    double layer_decode = 0, output_decode = 0, layer_prefill = 0, output_prefill_1 = 0;
    for (const Shape& s : kShapes) {
      if (!shape_filter.empty() && std::string(s.name).find(shape_filter) == std::string::npos)
        continue;
      Weights w = MakeWeights(type, s.rows, s.cols, kFootprint);
      if (layout != WeightLayout::kRowMajor) PackWeights(w, layout, pool);
      const int64_t max_tokens = quick ? 1 : multi ? kMulti : kPrefill;
      std::vector<float> x(static_cast<size_t>(s.cols * max_tokens));
      std::mt19937 rng(2);
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (auto& v : x) v = dist(rng);
      std::vector<float> y(static_cast<size_t>(s.rows * max_tokens));
      std::vector<uint8_t> scratch(MatMulScratchBytes(type, s.cols, max_tokens) + 64);
      for (int64_t tokens : {int64_t{1}, kMulti, kPrefill}) {
        if (tokens > max_tokens || (tokens == kMulti) != multi) continue;
        if (multi && s.per_layer <= 0) continue;
        if (tokens > 1 && s.per_layer <= 0 && quick) continue;
        if (prefill_only && (tokens == 1 || s.per_layer <= 0)) continue;
        const double sec = TimeCalls(
            [&](int i) {
              MatMul(w.View(i), x.data(), tokens, y.data(), scratch.data(), pool,
                     multi ? tokens : -1);
            },
            tokens == 1 ? 0.3 : 0.5, tokens == 1 ? 20 : 2);
        const double gbs = static_cast<double>(w.matrix_bytes) / sec / 1e9;
        const double gops = 2.0 * static_cast<double>(s.rows * s.cols * tokens) / sec / 1e9;
        std::printf("%-6s %-26s %7lld %10.3f %9.2f %9.1f\n", std::string(Traits(type).name).c_str(),
                    s.name, static_cast<long long>(tokens), sec * 1e3, gbs, gops);
        std::fflush(stdout);
        if (s.per_layer < 0) continue;
        if (tokens == 1) {
          if (s.per_layer)
            layer_decode += s.per_layer * sec;
          else
            output_decode = sec, output_prefill_1 = sec;
        } else if (s.per_layer) {
          layer_prefill += s.per_layer * sec;
        }
      }
    }
    // Qwen3-0.6B: 28 layers + tied output matrix (prefill computes logits of the last token).
    if (prefill_only || multi) continue;
    const double decode_s = 28 * layer_decode + output_decode;
    std::printf("%-6s model estimate (matmuls only): decode %.1f tok/s",
                std::string(Traits(type).name).c_str(), 1.0 / decode_s);
    if (!quick)
      std::printf(", pp512 %.1f tok/s", kPrefill / (28 * layer_prefill + output_prefill_1));
    std::printf("\n");
  }
  return 0;
}
