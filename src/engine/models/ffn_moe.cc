// The mixture-of-experts feed-forward block (qwen3moe, deepseek2): the router picks experts per
// row (Backend::RouteExperts, host-side picks), each expert runs once over the rows routed to
// it, gathered in row order so decode rows stay single-token rows, and their outputs are added
// back weighted; shared experts (deepseek2) see every row.
#include "engine/models/dense_model.h"

namespace llmux {

void DenseModel::FeedForwardMoe(const LayerWeights& w, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  Backend& be = *backend_;
  const int n = b.n_out();
  const int k = c.n_expert_used;
  const int n_single = b.single_from(b.first);  // rows [0, n_single) of these n are decode rows
  const size_t first = static_cast<size_t>(b.first);
  float* x = x_.data() + first * c.n_embd;
  float* xn = xn_.data() + first * c.n_embd;
  be.RmsNorm(x, w.ffn_norm, xn, n, c.n_embd, c.n_embd, c.rms_eps);
  be.MatMul(w.router, xn, n, router_.data(), n_single);
  be.RouteExperts(router_.data(), w.expert_bias, n, c.n_expert, k, c.routing, picks_.data(),
                  pick_weights_.data());
  float* sum = moe_out_.data();
  be.Fill(sum, static_cast<int64_t>(n) * c.n_embd, 0.0f);
  for (int e = 0; e < c.n_expert; ++e) {
    expert_rows_.clear();
    expert_weights_.clear();
    int e_single = 0;
    for (int t = 0; t < n; ++t) {
      for (int j = 0; j < k; ++j) {
        if (picks_[static_cast<size_t>(t) * k + j] != e) continue;
        expert_rows_.push_back(t);
        expert_weights_.push_back(pick_weights_[static_cast<size_t>(t) * k + j]);
        if (t < n_single) ++e_single;
      }
    }
    const int m = static_cast<int>(expert_rows_.size());
    if (m == 0) continue;
    be.CopyRows(xn, c.n_embd, 0, expert_in_.data(), c.n_embd, 0, m, 1, c.n_embd,
                expert_rows_.data());
    const MatMulOut outs[] = {{ExpertMatrix(w.gate_exps, e, c.n_ff_exp), gate_.data()},
                              {ExpertMatrix(w.up_exps, e, c.n_ff_exp), up_.data()}};
    be.MatMulMany(outs, expert_in_.data(), m, e_single);
    be.SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(m) * c.n_ff_exp);
    be.MatMul(ExpertMatrix(w.down_exps, e, c.n_embd), gate_.data(), m, out_.data(), e_single);
    be.ScatterAddWeighted(sum, expert_rows_.data(), expert_weights_.data(), m, c.n_embd,
                          out_.data());
  }
  if (w.gate_shexp.data != nullptr) {
    const int64_t n_sh = w.gate_shexp.rows;
    const MatMulOut outs[] = {{w.gate_shexp, gate_.data()}, {w.up_shexp, up_.data()}};
    be.MatMulMany(outs, xn, n, n_single);
    be.SwiGlu(gate_.data(), up_.data(), n * n_sh);
    be.MatMul(w.down_shexp, gate_.data(), n, out_.data(), n_single);
    be.Add(sum, out_.data(), static_cast<int64_t>(n) * c.n_embd);
  }
  be.Add(x, sum, static_cast<int64_t>(n) * c.n_embd);
}

}  // namespace llmux
