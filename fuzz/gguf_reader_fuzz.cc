// libFuzzer target: GgufFile::Parse on arbitrary bytes. Every accepted file is walked completely
// (each metadata value, each array element, each tensor's bytes) so that the sanitizers see any
// out-of-bounds pointer the reader let through.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/gguf/gguf_describe.h"
#include "engine/gguf/gguf_reader.h"

namespace {

using llmux::gguf::GgufFile;
using llmux::gguf::Value;
using llmux::gguf::ValueArray;

volatile uint64_t g_sink;

void Touch(const Value& v, int depth);

void TouchArray(const ValueArray& a, int depth) {
  uint64_t acc = a.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (auto x = a.IntAt(i)) acc += static_cast<uint64_t>(*x);
    if (auto s = a.StringAt(i)) acc += s->size() + (s->empty() ? 0 : static_cast<uint8_t>(s->back()));
    if (a.element_type() == llmux::gguf::ValueType::kArray) Touch(a.At(i), depth + 1);
  }
  g_sink = g_sink + acc;
}

void Touch(const Value& v, int depth) {
  if (depth > 64) __builtin_trap();  // the reader limits nesting far below this
  if (auto i = v.AsInt()) g_sink = g_sink + static_cast<uint64_t>(*i);
  if (auto f = v.AsFloat()) g_sink = g_sink + static_cast<uint64_t>(*f != 0);
  if (auto s = v.AsString()) g_sink = g_sink + s->size();
  if (const ValueArray* a = v.AsArray()) TouchArray(*a, depth);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = GgufFile::Parse(data, size);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();  // every refusal must say why
    return 0;
  }
  const GgufFile& f = **r;
  for (const auto& e : f.metadata()) {
    if (f.Find(e.key) == nullptr) __builtin_trap();
    Touch(e.value, 0);
  }
  (void)f.GetStringArray("tokenizer.ggml.tokens");
  (void)f.GetFloatArray("tokenizer.ggml.scores");
  (void)f.GetIntArray("tokenizer.ggml.token_type");
  for (const auto& t : f.tensors()) {
    if (f.FindTensor(t.name) == nullptr) __builtin_trap();
    if (t.nbytes > 0) {
      // The whole tensor must lie inside the input.
      if (t.data < data || t.data + t.nbytes > data + size) __builtin_trap();
      g_sink = g_sink + t.data[0] + t.data[t.nbytes - 1];
    }
    g_sink = g_sink + static_cast<uint64_t>(t.n_elements());
  }
  if (size < 64 * 1024) g_sink = g_sink + DescribeGguf(f).size();
  return 0;
}
