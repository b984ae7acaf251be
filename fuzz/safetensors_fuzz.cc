// libFuzzer target: the safetensors tensor-table reader (src/cli/safetensors_header.h) on
// arbitrary file bytes. A refusal must say why; an accepted table must only describe bytes of
// the input: every tensor inside the data section, its size the element count times the dtype
// size, and no two tensors overlapping. Each accepted tensor's first and last byte is read, so
// the sanitizers see any range the reader let through.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cli/safetensors_header.h"
#include "engine/convert/hf_dtype.h"
#include "fuzz_check.h"

namespace {

volatile uint64_t g_sink;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = llmux::cli::ParseSafetensorsBytes(bytes, "fuzz.safetensors");
  if (!r.ok()) {
    FUZZ_CHECK(!r.status().message().empty(), "a refusal says why");
    return 0;
  }
  FUZZ_CHECK(size >= 8, "an accepted file has the length prefix");
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& t : *r) {
    FUZZ_CHECK(!t.name.empty(), "tensors have names");
    auto elem = llmux::convert::SafetensorsDTypeSize(t.dtype);
    FUZZ_CHECK(elem.has_value(), "an accepted dtype is known");
    uint64_t n = *elem;
    for (int64_t d : t.shape) {
      FUZZ_CHECK(d >= 0, "dimensions are non-negative");
      FUZZ_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n), "sizes do not overflow");
    }
    FUZZ_CHECK(n == t.nbytes, "byte size = elements x dtype size");
    FUZZ_CHECK(t.offset >= 8 && t.offset <= size && t.nbytes <= size - t.offset,
               "the tensor lies inside the input");
    if (t.nbytes > 0) {
      g_sink = g_sink + data[t.offset] + data[t.offset + t.nbytes - 1];
      ranges.emplace_back(t.offset, t.offset + t.nbytes);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second, "tensors do not overlap");
  }
  return 0;
}
