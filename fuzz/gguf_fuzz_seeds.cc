// Writes the seed corpus for gguf_reader_fuzz into a directory:
//   gguf_fuzz_seeds OUT_DIR [MODELS_DIR]
// Seeds: small valid files from GgufWriter (every value type, nested arrays, tensors of several
// types), the metadata of each shared model with small stand-in tensors, and the first bytes of
// each shared model.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"

namespace fs = std::filesystem;
using namespace llmux;
using namespace llmux::gguf;

namespace {

bool WriteHead(const fs::path& src, const fs::path& dst, size_t n) {
  std::ifstream in(src, std::ios::binary);
  std::vector<char> buf(n);
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<size_t>(in.gcount()));
  std::ofstream out(dst, std::ios::binary);
  out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  return static_cast<bool>(out);
}

Status WriteAllTypes(const fs::path& dst) {
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.Set("u8", Value::Uint8(1));
  w.Set("i8", Value::Int8(-1));
  w.Set("u16", Value::Uint16(2));
  w.Set("i16", Value::Int16(-2));
  w.SetUint32("general.alignment", 32);
  w.SetInt32("i32", -3);
  w.SetFloat32("f32", 0.5f);
  w.SetBool("b", true);
  w.SetUint64("u64", 4);
  w.SetInt64("i64", -4);
  w.SetFloat64("f64", 0.25);
  w.SetStringArray("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "ab"});
  w.SetFloat32Array("tokenizer.ggml.scores", {0, 0, -1, -2, -3});
  w.SetInt32Array("tokenizer.ggml.token_type", {3, 3, 1, 1, 1});
  w.Set("nested", Value::Array(ValueType::kArray,
                               std::vector<Value>{Value::Array(ValueType::kInt32, std::vector<int32_t>{1}),
                                                  Value::Array(ValueType::kString,
                                                               std::vector<std::string>{"x"})}));
  static std::vector<uint8_t> data(4096, 0x3c);
  w.AddTensor("f32", DType::kF32, {4, 2}, data.data(), 32);
  w.AddTensor("f16", DType::kF16, {8}, data.data(), 16);
  w.AddTensor("q8_0", DType::kQ8_0, {32, 2}, data.data(), 68);
  w.AddTensor("q4_k", DType::kQ4_K, {256}, data.data(), 144);
  w.AddTensor("q6_k", DType::kQ6_K, {256, 1, 1}, data.data(), 210);
  return w.Write(dst.string());
}

// The model's metadata (arrays shortened) with a few tiny tensors, so that a seed of a few KB
// carries the real key layout.
Status WriteMetadataSeed(const GgufFile& f, const fs::path& dst) {
  GgufWriter w;
  for (const auto& e : f.metadata()) {
    const ValueArray* a = e.value.AsArray();
    if (a != nullptr && a->size() > 16) {
      if (const auto* s = a->as<std::string>()) {
        w.SetStringArray(e.key, std::vector<std::string>(s->begin(), s->begin() + 16));
        continue;
      }
      if (const auto* fl = a->as<float>()) {
        w.SetFloat32Array(e.key, std::vector<float>(fl->begin(), fl->begin() + 16));
        continue;
      }
      if (const auto* in = a->as<int32_t>()) {
        w.SetInt32Array(e.key, std::vector<int32_t>(in->begin(), in->begin() + 16));
        continue;
      }
    }
    if (auto s = e.value.AsString(); s && s->size() > 256) {
      w.SetString(e.key, std::string(s->substr(0, 256)));
      continue;
    }
    w.CopyValue(e.key, e.value);
  }
  int n = 0;
  for (const auto& t : f.tensors()) {
    if (t.nbytes <= 1024 && n < 8) {
      w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
      ++n;
    }
  }
  return w.Write(dst.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: gguf_fuzz_seeds OUT_DIR [MODELS_DIR]\n";
    return 2;
  }
  fs::path out = argv[1];
  fs::create_directories(out);
  int failures = 0;
  if (Status s = WriteAllTypes(out / "all_types.gguf"); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    ++failures;
  }
  if (argc >= 3 && fs::is_directory(argv[2])) {
    for (const auto& entry : fs::directory_iterator(argv[2])) {
      if (entry.path().extension() != ".gguf") continue;
      std::string stem = entry.path().stem().string();
      WriteHead(entry.path(), out / (stem + ".head4k"), 4096);
      auto f = GgufFile::Open(entry.path().string());
      if (!f.ok()) {
        std::cerr << f.status().ToString() << "\n";
        ++failures;
        continue;
      }
      if (Status s = WriteMetadataSeed(**f, out / (stem + ".meta.gguf")); !s.ok()) {
        std::cerr << stem << ": " << s.ToString() << "\n";
        ++failures;
      }
    }
  }
  std::cout << "seed corpus in " << out.string() << "\n";
  return failures == 0 ? 0 : 1;
}
