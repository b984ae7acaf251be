// Test-only: writes small random-weight GGUF models of the llama / qwen2 / qwen3 layouts
// and runs an independent double-precision forward pass over the same weights, written
// straight from the architecture definitions, to hold the engine against.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/tensor/dtype.h"

namespace llmux::testing {

struct SyntheticSpec {
  std::string arch = "llama";
  int n_embd = 32, n_layer = 2, n_head = 4, n_head_kv = 2, head_dim = 8, n_ff = 48, n_vocab = 64;
  bool write_head_dim = false;  // write attention.key_length / value_length
  bool tied = false;            // no output.weight
  bool qkv_bias = false;        // attn_q/k/v.bias
  bool qk_norm = false;         // attn_q_norm / attn_k_norm
  bool neox = false;            // RoPE layout of the reference pass
  float theta = 10000.0f;
  float linear_factor = 1.0f;  // rope.scaling.type linear with this factor when != 1
  float eps = 1e-5f;
  DType matrix_type = DType::kF32;  // type of the 2-D weights
  uint32_t seed = 1;
};

// Weights as the engine sees them (after quantization round trip), by tensor name.
using TensorMap = std::map<std::string, std::vector<float>>;

struct SyntheticModel {
  SyntheticSpec spec;
  TensorMap w;
  std::map<std::string, std::vector<int64_t>> shapes;
};

inline SyntheticModel MakeSynthetic(const SyntheticSpec& s) {
  SyntheticModel m;
  m.spec = s;
  std::mt19937 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
  auto add = [&](const std::string& name, std::vector<int64_t> ne, float scale, float offset,
                 bool matrix) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    std::vector<float> v(n);
    for (auto& x : v) x = offset + scale * normal(rng);
    if (matrix && s.matrix_type != DType::kF32) {
      // Round trip through the stored type so the reference sees the same weights.
      const size_t row_bytes = *RowBytes(s.matrix_type, ne[0]);
      std::vector<uint8_t> buf(row_bytes);
      for (int64_t r = 0; r < n / ne[0]; ++r) {
        (void)kernels::QuantizeRow(s.matrix_type, v.data() + r * ne[0], buf.data(), ne[0]);
        kernels::DequantizeRow(s.matrix_type, buf.data(), v.data() + r * ne[0], ne[0]);
      }
    }
    m.w[name] = std::move(v);
    m.shapes[name] = std::move(ne);
  };
  const float e = 1.0f / std::sqrt(static_cast<float>(s.n_embd));
  add("token_embd.weight", {s.n_embd, s.n_vocab}, 1.0f, 0.0f, true);
  add("output_norm.weight", {s.n_embd}, 0.1f, 1.0f, false);
  if (!s.tied) add("output.weight", {s.n_embd, s.n_vocab}, e, 0.0f, true);
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    add(p + "attn_norm.weight", {s.n_embd}, 0.1f, 1.0f, false);
    add(p + "attn_q.weight", {s.n_embd, q}, e, 0.0f, true);
    add(p + "attn_k.weight", {s.n_embd, kv}, e, 0.0f, true);
    add(p + "attn_v.weight", {s.n_embd, kv}, e, 0.0f, true);
    add(p + "attn_output.weight", {q, s.n_embd}, 1.0f / std::sqrt(static_cast<float>(q)), 0.0f,
        true);
    if (s.qkv_bias) {
      add(p + "attn_q.bias", {q}, 0.5f, 0.0f, false);
      add(p + "attn_k.bias", {kv}, 0.5f, 0.0f, false);
      add(p + "attn_v.bias", {kv}, 0.5f, 0.0f, false);
    }
    if (s.qk_norm) {
      add(p + "attn_q_norm.weight", {s.head_dim}, 0.1f, 1.0f, false);
      add(p + "attn_k_norm.weight", {s.head_dim}, 0.1f, 1.0f, false);
    }
    add(p + "ffn_norm.weight", {s.n_embd}, 0.1f, 1.0f, false);
    add(p + "ffn_gate.weight", {s.n_embd, s.n_ff}, e, 0.0f, true);
    add(p + "ffn_up.weight", {s.n_embd, s.n_ff}, e, 0.0f, true);
    add(p + "ffn_down.weight", {s.n_ff, s.n_embd}, 1.0f / std::sqrt(static_cast<float>(s.n_ff)),
        0.0f, true);
  }
  return m;
}

// Metadata for the spec; tensors from m (matrices encoded as spec.matrix_type).
// `keep` is filled with the encoded bytes, which must outlive Write().
inline void FillWriter(const SyntheticModel& m, gguf::GgufWriter& w,
                       std::vector<std::vector<uint8_t>>& keep) {
  const SyntheticSpec& s = m.spec;
  const std::string a = s.arch;
  w.SetString("general.architecture", a);
  w.SetString("general.name", "synthetic " + a);
  w.SetUint32(a + ".context_length", 4096);
  w.SetUint32(a + ".embedding_length", s.n_embd);
  w.SetUint32(a + ".block_count", s.n_layer);
  w.SetUint32(a + ".feed_forward_length", s.n_ff);
  w.SetUint32(a + ".attention.head_count", s.n_head);
  w.SetUint32(a + ".attention.head_count_kv", s.n_head_kv);
  if (s.write_head_dim) {
    w.SetUint32(a + ".attention.key_length", s.head_dim);
    w.SetUint32(a + ".attention.value_length", s.head_dim);
  }
  w.SetFloat32(a + ".rope.freq_base", s.theta);
  if (s.linear_factor != 1.0f) {
    w.SetString(a + ".rope.scaling.type", "linear");
    w.SetFloat32(a + ".rope.scaling.factor", s.linear_factor);
  }
  w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", s.eps);
  for (const auto& [name, values] : m.w) {
    const auto& ne = m.shapes.at(name);
    const bool matrix = ne.size() == 2;
    const DType type = matrix ? s.matrix_type : DType::kF32;
    const size_t row_bytes = *RowBytes(type, ne[0]);
    const int64_t rows = static_cast<int64_t>(values.size()) / ne[0];
    std::vector<uint8_t> bytes(row_bytes * rows);
    for (int64_t r = 0; r < rows; ++r) {
      (void)kernels::QuantizeRow(type, values.data() + r * ne[0], bytes.data() + r * row_bytes,
                                 ne[0]);
    }
    keep.push_back(std::move(bytes));
    w.AddTensor(name, type, ne, keep.back().data(), keep.back().size());
  }
}

inline Status WriteSynthetic(const SyntheticModel& m, const std::string& path) {
  gguf::GgufWriter w;
  std::vector<std::vector<uint8_t>> keep;
  keep.reserve(m.w.size());
  FillWriter(m, w, keep);
  return w.Write(path);
}

// Reads a small llama / qwen2 / qwen3 GGUF file (any tensor types) into a SyntheticModel
// with every tensor dequantized, so RefForward can run on it.
inline SyntheticModel ReferenceFromGguf(const gguf::GgufFile& f) {
  SyntheticModel m;
  SyntheticSpec& s = m.spec;
  s.arch = f.GetString("general.architecture").value_or("");
  const std::string a = s.arch + ".";
  s.n_embd = static_cast<int>(f.GetInt(a + "embedding_length").value_or(0));
  s.n_layer = static_cast<int>(f.GetInt(a + "block_count").value_or(0));
  s.n_head = static_cast<int>(f.GetInt(a + "attention.head_count").value_or(1));
  s.n_head_kv = static_cast<int>(f.GetInt(a + "attention.head_count_kv").value_or(s.n_head));
  s.head_dim = static_cast<int>(f.GetInt(a + "attention.key_length").value_or(s.n_embd / s.n_head));
  s.n_ff = static_cast<int>(f.GetInt(a + "feed_forward_length").value_or(0));
  s.theta = static_cast<float>(f.GetFloat(a + "rope.freq_base").value_or(10000.0));
  s.eps = static_cast<float>(f.GetFloat(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  s.neox = s.arch != "llama";
  s.qkv_bias = f.FindTensor("blk.0.attn_q.bias") != nullptr;
  s.qk_norm = f.FindTensor("blk.0.attn_q_norm.weight") != nullptr;
  s.tied = f.FindTensor("output.weight") == nullptr;
  for (const auto& t : f.tensors()) {
    std::vector<float> v(static_cast<size_t>(t.n_elements()));
    const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
    const size_t row_bytes = *RowBytes(t.type, cols);
    for (int64_t r = 0; r < rows; ++r) {
      kernels::DequantizeRow(t.type, t.data + r * row_bytes, v.data() + r * cols, cols);
    }
    m.w[t.name] = std::move(v);
    m.shapes[t.name] = t.ne;
  }
  if (f.FindTensor("token_embd.weight") != nullptr) {
    s.n_vocab = static_cast<int>(f.FindTensor("token_embd.weight")->ne[1]);
  }
  return m;
}

// ---- the reference forward pass, in double ----

inline void RefRmsNorm(std::vector<double>& x, const std::vector<float>& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double scale = 1.0 / std::sqrt(ss / x.size() + eps);
  for (size_t i = 0; i < x.size(); ++i) x[i] = x[i] * scale * w[i];
}

// y = W x for W stored as ggml {cols, rows}: row r is w[r*cols .. +cols].
inline std::vector<double> RefMatVec(const std::vector<float>& w, const std::vector<double>& x) {
  const size_t cols = x.size(), rows = w.size() / cols;
  std::vector<double> y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    double acc = 0;
    for (size_t c = 0; c < cols; ++c) acc += static_cast<double>(w[r * cols + c]) * x[c];
    y[r] = acc;
  }
  return y;
}

inline void RefRope(double* v, int head_dim, int pos, const SyntheticSpec& s) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double freq = std::pow(static_cast<double>(s.theta), -2.0 * i / head_dim);
    const double angle = pos / static_cast<double>(s.linear_factor) * freq;
    const int a = s.neox ? i : 2 * i, b = s.neox ? i + half : 2 * i + 1;
    const double x0 = v[a], x1 = v[b];
    v[a] = x0 * std::cos(angle) - x1 * std::sin(angle);
    v[b] = x0 * std::sin(angle) + x1 * std::cos(angle);
  }
}

// Logits for every position of `tokens` (row per token).
inline std::vector<std::vector<double>> RefForward(const SyntheticModel& m,
                                                   const std::vector<int32_t>& tokens) {
  const SyntheticSpec& s = m.spec;
  const int n = static_cast<int>(tokens.size()), hd = s.head_dim;
  const int group = s.n_head / s.n_head_kv;
  const TensorMap& w = m.w;
  std::vector<std::vector<double>> x(n, std::vector<double>(s.n_embd));
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < s.n_embd; ++i) {
      x[t][i] = w.at("token_embd.weight")[static_cast<size_t>(tokens[t]) * s.n_embd + i];
    }
  }
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (int t = 0; t < n; ++t) {
      std::vector<double> h = x[t];
      RefRmsNorm(h, w.at(p + "attn_norm.weight"), s.eps);
      q[t] = RefMatVec(w.at(p + "attn_q.weight"), h);
      k[t] = RefMatVec(w.at(p + "attn_k.weight"), h);
      v[t] = RefMatVec(w.at(p + "attn_v.weight"), h);
      if (s.qkv_bias) {
        for (size_t i = 0; i < q[t].size(); ++i) q[t][i] += w.at(p + "attn_q.bias")[i];
        for (size_t i = 0; i < k[t].size(); ++i) k[t][i] += w.at(p + "attn_k.bias")[i];
        for (size_t i = 0; i < v[t].size(); ++i) v[t][i] += w.at(p + "attn_v.bias")[i];
      }
      for (int h2 = 0; h2 < s.n_head; ++h2) {
        if (s.qk_norm) {
          std::vector<double> head(q[t].begin() + h2 * hd, q[t].begin() + (h2 + 1) * hd);
          RefRmsNorm(head, w.at(p + "attn_q_norm.weight"), s.eps);
          std::copy(head.begin(), head.end(), q[t].begin() + h2 * hd);
        }
        RefRope(q[t].data() + h2 * hd, hd, t, s);
      }
      for (int h2 = 0; h2 < s.n_head_kv; ++h2) {
        if (s.qk_norm) {
          std::vector<double> head(k[t].begin() + h2 * hd, k[t].begin() + (h2 + 1) * hd);
          RefRmsNorm(head, w.at(p + "attn_k_norm.weight"), s.eps);
          std::copy(head.begin(), head.end(), k[t].begin() + h2 * hd);
        }
        RefRope(k[t].data() + h2 * hd, hd, t, s);
      }
    }
    for (int t = 0; t < n; ++t) {
      std::vector<double> attn(static_cast<size_t>(s.n_head) * hd, 0.0);
      for (int h2 = 0; h2 < s.n_head; ++h2) {
        const int g = h2 / group;
        std::vector<double> sc(t + 1);
        double mx = -1e300;
        for (int p2 = 0; p2 <= t; ++p2) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[t][h2 * hd + i] * k[p2][g * hd + i];
          sc[p2] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[p2]);
        }
        double sum = 0;
        for (double& e : sc) sum += (e = std::exp(e - mx));
        for (int p2 = 0; p2 <= t; ++p2) {
          for (int i = 0; i < hd; ++i) attn[h2 * hd + i] += sc[p2] / sum * v[p2][g * hd + i];
        }
      }
      const std::vector<double> o = RefMatVec(w.at(p + "attn_output.weight"), attn);
      for (int i = 0; i < s.n_embd; ++i) x[t][i] += o[i];
      std::vector<double> h = x[t];
      RefRmsNorm(h, w.at(p + "ffn_norm.weight"), s.eps);
      std::vector<double> g = RefMatVec(w.at(p + "ffn_gate.weight"), h);
      const std::vector<double> u = RefMatVec(w.at(p + "ffn_up.weight"), h);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      const std::vector<double> d = RefMatVec(w.at(p + "ffn_down.weight"), g);
      for (int i = 0; i < s.n_embd; ++i) x[t][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits(n);
  const std::vector<float>& out =
      w.count("output.weight") ? w.at("output.weight") : w.at("token_embd.weight");
  for (int t = 0; t < n; ++t) {
    std::vector<double> h = x[t];
    RefRmsNorm(h, w.at("output_norm.weight"), s.eps);
    logits[t] = RefMatVec(out, h);
  }
  return logits;
}

}  // namespace llmux::testing
