// Grouped-query attention (llama, qwen2, qwen3): q/k/v projections with optional biases and
// per-head q/k norms, RoPE, the cache, attention and the output projection.
#include <cmath>

#include "engine/models/dense_model.h"

namespace llmux {

void DenseModel::ProjectQkv(const LayerWeights& w, KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  Backend& be = *backend_;
  float* k = k_.data();
  float* v = v_.data();
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  if (b.first == 0) {
    // Q, K and V of every token: one pass over the three matrices.
    const MatMulOut outs[] = {{w.wq, q}, {w.wk, k}, {w.wv, v}};
    be.MatMulMany(outs, xn_.data(), b.n, b.n_single);
  } else {
    const MatMulOut outs[] = {{w.wk, k}, {w.wv, v}};
    be.MatMulMany(outs, xn_.data(), b.n, b.n_single);
    if (b.n_out() > 0) {
      be.MatMul(w.wq, xn_.data() + static_cast<size_t>(b.first) * c.n_embd, b.n_out(), q,
                b.single_from(b.first));
    }
  }
  if (w.bk != nullptr) be.AddBias(k, w.bk, b.n, c.kv_dim());
  if (w.bv != nullptr) be.AddBias(v, w.bv, b.n, c.kv_dim());
  if (b.n_out() == 0) return;
  if (w.bq != nullptr) be.AddBias(q, w.bq, b.n_out(), c.q_dim());
}

void DenseModel::NormHeads(const LayerWeights& w, KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  backend_->RmsNorm(k_.data(), w.k_norm, k_.data(), static_cast<int64_t>(b.n) * c.n_head_kv,
                    c.head_dim, c.head_dim, c.rms_eps);
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  backend_->RmsNorm(q, w.q_norm, q, static_cast<int64_t>(b.n_out()) * c.n_head, c.head_dim,
                    c.head_dim, c.rms_eps);
}

void DenseModel::ApplyRope(KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  backend_->Rope(rope_, k_.data(), 0, b.n, c.n_head_kv, c.head_dim, c.kv_dim());
  backend_->Rope(rope_, q_.data() + static_cast<size_t>(b.first) * c.q_dim(), b.first, b.n_out(),
                 c.n_head, c.head_dim, c.q_dim());
}

void DenseModel::AttendAndProject(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  Backend& be = *backend_;
  be.StoreKv(cache, il, k_.data(), v_.data(), b.slots, b.n);
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = c.n_head_kv;
  shape.head_dim = c.head_dim;
  shape.scale = c.attn_scale > 0 ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  be.Attention(q_.data(), c.q_dim(), cache, il, b.seqs, shape, attn_.data(), c.q_dim());
  const size_t first = static_cast<size_t>(b.first);
  float* out = out_.data() + first * c.n_embd;
  be.MatMul(w.wo, attn_.data() + first * c.q_dim(), b.n_out(), out, b.single_from(b.first));
  if (w.bo != nullptr) be.AddBias(out, w.bo, b.n_out(), c.n_embd);
  be.Add(x_.data() + first * c.n_embd, out, static_cast<int64_t>(b.n_out()) * c.n_embd);
}

}  // namespace llmux
