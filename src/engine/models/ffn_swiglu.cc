// The dense SwiGLU feed-forward block: x += Wdown.(silu(Wgate.xn) * Wup.xn).
#include "engine/models/dense_model.h"

namespace llmux {

void DenseModel::FeedForward(const LayerWeights& w, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  Backend& be = *backend_;
  const int n = b.n_out();
  float* x = x_.data() + static_cast<size_t>(b.first) * c.n_embd;
  float* xn = xn_.data() + static_cast<size_t>(b.first) * c.n_embd;
  be.RmsNorm(x, w.ffn_norm, xn, n, c.n_embd, c.n_embd, c.rms_eps);
  const MatMulOut outs[] = {{w.gate, gate_.data()}, {w.up, up_.data()}};
  be.MatMulMany(outs, xn, n, b.single_from(b.first));
  be.SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(n) * c.n_ff);
  be.MatMul(w.down, gate_.data(), n, out_.data(), b.single_from(b.first));
  be.Add(x, out_.data(), static_cast<int64_t>(n) * c.n_embd);
}

}  // namespace llmux
