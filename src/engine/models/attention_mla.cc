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
#include "engine/models/dense_model.h"

namespace llmux {

void DenseModel::AttendLatent(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  const ModelConfig& c = config_;
  const ModelConfig::Mla& m = c.mla;
  Backend& be = *backend_;
  const int n_rot = c.rope.n_rot;
  const int row = c.head_dim;  // kv_lora + n_rot: the cache row and the absorbed query head

  // Cache rows of every token.
  float* k = k_.data();
  be.MatMul(w.wkv_a, xn_.data(), b.n, k, b.n_single);
  be.RmsNorm(k, w.kv_a_norm, k, b.n, m.kv_lora, row, c.rms_eps);
  be.Rope(rope_, k + m.kv_lora, 0, b.n, 1, row, row);
  be.StoreKv(cache, il, k, nullptr, b.slots, b.n);
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
    be.MatMul(w.wq_a, xn, n, q_lora_.data(), n_single);
    be.RmsNorm(q_lora_.data(), w.q_a_norm, q_lora_.data(), n, m.q_lora, m.q_lora, c.rms_eps);
    be.MatMul(w.wq_b, q_lora_.data(), n, q_lat, n_single);
  } else {
    be.MatMul(w.wq, xn, n, q_lat, n_single);
  }
  be.Rope(rope_, q_lat + m.qk_nope, b.first, n, c.n_head, q_head, q_width);

  // Absorbed queries, at the batch rows attention reads: [Wk_b,h . q_nope | q_rope] per head.
  float* q = q_.data() + first * c.q_dim();
  be.MatMulHeads(w.wk_b, m.kv_lora, q_lat, q_width, q_head, n, q, c.q_dim(), row, n_single);
  be.CopyRows(q_lat + m.qk_nope, q_width, q_head, q + m.kv_lora, c.q_dim(), row, n, c.n_head,
              n_rot);

  // Attention over the latent rows: n_head outputs of kv_lora per row.
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = 1;
  shape.head_dim = row;
  shape.v_dim = m.kv_lora;
  shape.scale = c.attn_scale;
  const int64_t lat_width = static_cast<int64_t>(c.n_head) * m.kv_lora;
  be.Attention(q_.data(), c.q_dim(), cache, il, b.seqs, shape, attn_.data(), lat_width);

  // Expand each head's latent to v_head values, then the output projection.
  const float* lat = attn_.data() + first * lat_width;
  const int64_t v_width = static_cast<int64_t>(c.n_head) * m.v_head;
  be.MatMulHeads(w.wv_b, m.v_head, lat, lat_width, m.kv_lora, n, v_heads_.data(), v_width,
                 m.v_head, n_single);
  float* out = out_.data() + first * c.n_embd;
  be.MatMul(w.wo, v_heads_.data(), n, out, n_single);
  be.Add(x_.data() + first * c.n_embd, out, static_cast<int64_t>(n) * c.n_embd);
}

}  // namespace llmux
