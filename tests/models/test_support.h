// Helpers for the model tests: paths to the shared data, JSON reading, model loading and
// the reference-comparison rules of ../shared/vectors/README.md.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/models/model.h"
#include "tests/support/test_paths.h"

namespace llmux::testing {

inline nlohmann::json LoadJson(const std::string& rel) {
  std::ifstream in(SharedPath(rel));
  EXPECT_TRUE(in.good()) << "cannot open " << SharedPath(rel);
  return nlohmann::json::parse(in);
}

inline std::vector<float> LoadF32File(const std::string& rel) {
  std::ifstream in(SharedPath(rel), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << SharedPath(rel);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

inline std::shared_ptr<const gguf::GgufFile> OpenShared(const std::string& rel) {
  auto f = gguf::GgufFile::Open(SharedPath(rel));
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (!f.ok()) return nullptr;
  return std::shared_ptr<const gguf::GgufFile>(std::move(f).value());
}

// Writes an all-F32 copy of `src` (same metadata, file type 0) whose tensors are src's
// dequantized by our kernels: the file llama.cpp's `dequantized_f32` run computed on.
inline Status WriteDequantizedCopy(const gguf::GgufFile& src, const std::string& path) {
  gguf::GgufWriter w;
  for (const auto& kv : src.metadata()) w.CopyValue(kv.key, kv.value);
  w.SetUint32("general.file_type", 0);
  for (const auto& t : src.tensors()) {
    w.AddTensor(t.name, DType::kF32, t.ne, [&t](std::span<uint8_t> out) {
      const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
      const size_t row_bytes = *RowBytes(t.type, cols);
      float* dst = reinterpret_cast<float*>(out.data());
      for (int64_t r = 0; r < rows; ++r) {
        kernels::DequantizeRow(t.type, t.data + r * row_bytes, dst + r * cols, cols);
      }
      return Status::Ok();
    });
  }
  return w.Write(path);
}

// One thread by default: results do not depend on the thread count (tested separately),
// and spinning worker threads slow everything down on a busy 2-core CI machine.
inline std::unique_ptr<Model> LoadSharedModel(const std::string& rel, int n_threads = 1) {
  auto file = OpenShared(rel);
  if (!file) return nullptr;
  auto m = Model::Load(file, n_threads);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return nullptr;
  return std::move(m).value();
}

inline double LogSumExp(std::span<const float> logits) {
  float max = logits[0];
  for (float v : logits) max = std::max(max, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  return max + std::log(sum);
}

inline int32_t Argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// One reference step: top-20 ids/logits and the full-vocabulary logsumexp.
struct RefTop {
  std::vector<int32_t> ids;
  std::vector<float> logits;
  double logsumexp = 0;
};

inline RefTop ParseTop(const nlohmann::json& j) {
  RefTop t;
  t.ids = j.at("ids").get<std::vector<int32_t>>();
  t.logits = j.at("logits").get<std::vector<float>>();
  t.logsumexp = j.at("logsumexp").get<double>();
  return t;
}

// Largest |engine - reference| over the 20 reference ids and the logsumexp.
inline double TopDiff(std::span<const float> logits, const RefTop& ref) {
  double d = std::abs(LogSumExp(logits) - ref.logsumexp);
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    d = std::max(d, std::abs(static_cast<double>(logits[ref.ids[i]]) - ref.logits[i]));
  }
  return d;
}

// The near-tie rule: the engine's pick must be the reference's, unless the reference's own
// top two are a real tie, closer than the tolerance: then the engine may pick an id whose
// reference logit is within that gap of the top (the runner-up, or an exact tie with it).
// (The window this replaces, max(1e-3 * max(1, |top|), 2 * tol), let the quantized files
// pick any of about 10 of the 20 reference ids at every step.)
inline bool PickAllowed(int32_t pick, const RefTop& ref, double tol) {
  if (pick == ref.ids[0]) return true;
  const double gap = static_cast<double>(ref.logits[0]) - ref.logits[1];
  if (gap >= tol) return false;
  for (size_t i = 1; i < ref.ids.size(); ++i) {
    if (ref.ids[i] == pick) return static_cast<double>(ref.logits[0]) - ref.logits[i] <= gap;
  }
  return false;
}

}  // namespace llmux::testing
