// Multi-head latent attention (DeepSeek-V2/V3), with the projections absorbed as llama.cpp
// runs it when the file carries attn_k_b and attn_v_b:
//
//   cache row   = [RMSNorm(c_kv) | RoPE(k_rope)],  [c_kv | k_rope] = Wkv_a . xn
//   q (per head) = [q_nope | RoPE(q_rope)]         from Wq_b . RMSNorm(Wq_a . xn)
//   query       = [Wk_b,h . q_nope | RoPE(q_rope)] (q_nope absorbed into the latent space)
//   o_h         = Wv_b,h . softmax(query . rows * scale) . latents
//   x          += Wo . [o_0 | o_1 | ...]
//
// so the cache holds kv_lora + n_rot floats per position and layer (one MQA head), and
// attention is the GQA kernel with one kv head whose V is the latent part of each row.
#include <algorithm>

#include "engine/models/dense_model.h"
#include "engine/models/ffn.h"
#include "engine/models/rms_norm.h"

namespace llmux {

void DenseModel::ProjectHeads(const MatrixView& w, int64_t rows, const float* x, int64_t x_stride,
                              int64_t x_head, int n, float* y, int64_t y_stride, int64_t y_head,
                              int n_single) {
  const int64_t in = w.cols;
  for (int h = 0; static_cast<int64_t>(h) * rows < w.rows; ++h) {
    for (int t = 0; t < n; ++t) {
      std::copy_n(x + t * x_stride + h * x_head, in, head_in_.data() + t * in);
    }
    Project(ExpertMatrix(w, h, rows), head_in_.data(), n, head_out_.data(), n_single);
    for (int t = 0; t < n; ++t) {
      std::copy_n(head_out_.data() + t * rows, rows, y + t * y_stride + h * y_head);
    }
  }
}

void DenseModel::AttendLatent(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  const ModelConfig& c = config_;
  const ModelConfig::Mla& m = c.mla;
  const int n_rot = c.rope.n_rot;
  const int row = c.head_dim;  // kv_lora + n_rot: the cache row and the absorbed query head

  // Cache rows of every token.
  float* k = k_.data();
  Project(w.wkv_a, xn_.data(), b.n, k, b.n_single);
  pool_.ParallelFor(b.n, 16, [&](int64_t t) {
    RmsNorm(k + t * row, w.kv_a_norm, k + t * row, m.kv_lora, c.rms_eps);
  });
  rope_.Apply(k + m.kv_lora, 0, b.n, 1, row, row, pool_);
  cache.Store(il, k, nullptr, b.slots, b.n, pool_);
  if (b.n_out() == 0) return;

  // Queries of rows [first, n), before absorption: n_head x (qk_nope + n_rot) each.
  const int n = b.n_out();
  const int n_single = b.single_from(b.first);
  const size_t first = static_cast<size_t>(b.first);
  const float* xn = xn_.data() + first * c.n_embd;
  const int q_head = m.qk_nope + n_rot;
  const int64_t q_width = static_cast<int64_t>(c.n_head) * q_head;
  float* q_lat = q_lat_.data();
  if (m.q_lora > 0) {
    Project(w.wq_a, xn, n, q_lora_.data(), n_single);
    RmsNormRows(q_lora_.data(), w.q_a_norm, q_lora_.data(), n, m.q_lora, c.rms_eps, pool_);
    Project(w.wq_b, q_lora_.data(), n, q_lat, n_single);
  } else {
    Project(w.wq, xn, n, q_lat, n_single);
  }
  rope_.Apply(q_lat + m.qk_nope, b.first, n, c.n_head, q_head, q_width, pool_);

  // Absorbed queries, at the batch rows attention reads: [Wk_b,h . q_nope | q_rope] per head.
  float* q = q_.data() + first * c.q_dim();
  ProjectHeads(w.wk_b, m.kv_lora, q_lat, q_width, q_head, n, q, c.q_dim(), row, n_single);
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < c.n_head; ++h) {
      std::copy_n(q_lat + t * q_width + h * q_head + m.qk_nope, n_rot,
                  q + static_cast<int64_t>(t) * c.q_dim() + h * row + m.kv_lora);
    }
  }

  // Attention over the latent rows: n_head outputs of kv_lora per row.
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = 1;
  shape.head_dim = row;
  shape.v_dim = m.kv_lora;
  shape.scale = c.attn_scale;
  const int64_t lat_width = static_cast<int64_t>(c.n_head) * m.kv_lora;
  Attention(q_.data(), c.q_dim(), cache, il, b.seqs, shape, attn_.data(), lat_width,
            task_offsets_, pool_);

  // Expand each head's latent to v_head values, then the output projection.
  const float* lat = attn_.data() + first * lat_width;
  const int64_t v_width = static_cast<int64_t>(c.n_head) * m.v_head;
  ProjectHeads(w.wv_b, m.v_head, lat, lat_width, m.kv_lora, n, v_heads_.data(), v_width, m.v_head,
               n_single);
  float* out = out_.data() + first * c.n_embd;
  Project(w.wo, v_heads_.data(), n, out, n_single);
  AddInPlace(x_.data() + first * c.n_embd, out, static_cast<int64_t>(n) * c.n_embd, pool_);
}

}  // namespace llmux
