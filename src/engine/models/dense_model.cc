#include "engine/models/dense_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/models/attention.h"
#include "engine/models/ffn.h"
#include "engine/models/rms_norm.h"

namespace llmux {

DenseModel::DenseModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                       int n_threads)
    : config_(std::move(config)), file_(std::move(file)), pool_(n_threads) {}

Status DenseModel::Init() {
  LLMUX_ASSIGN_OR_RETURN(weights_, LoadWeights(*file_, config_, &weight_bytes_));
  const ModelConfig& c = config_;
  max_batch_ = kMaxBatch;
  const size_t b = static_cast<size_t>(max_batch_);
  size_t scratch = 0;
  auto need = [&](const MatrixView& w) {
    scratch = std::max(scratch, kernels::MatMulScratchBytes(w.type, w.cols, max_batch_));
  };
  need(weights_.output);
  for (const LayerWeights& l : weights_.layers) {
    for (const MatrixView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) need(*w);
  }
  const bool ok = x_.Allocate(b * c.n_embd) && xn_.Allocate(b * c.n_embd) &&
                  q_.Allocate(b * c.q_dim()) && attn_.Allocate(b * c.q_dim()) &&
                  gate_.Allocate(b * c.n_ff) && up_.Allocate(b * c.n_ff) &&
                  out_.Allocate(b * c.n_embd) && scratch_.Allocate(scratch);
  if (!ok) return ResourceExhaustedError("cannot allocate activation buffers");
  positions_.assign(b, 0);
  rope_.Init(c.rope, max_batch_, weights_.rope_freqs);
  return Status::Ok();
}

Result<std::unique_ptr<KvCache>> DenseModel::NewCache(int n_ctx) {
  if (n_ctx <= 0) {
    return InvalidArgumentError("context size must be positive, got " + std::to_string(n_ctx));
  }
  return KvCache::Create(config_.n_layer, n_ctx, config_.kv_dim(), pool_.size(),
                         AttentionScratchFloats(config_.head_dim, n_ctx));
}

Status DenseModel::Forward(KvCache& cache, std::span<const int32_t> tokens, int pos,
                           float* logits, bool all_logits) {
  const ModelConfig& c = config_;
  if (cache.n_layer() != c.n_layer || cache.kv_dim() != c.kv_dim() ||
      cache.n_threads() < pool_.size() ||
      cache.scratch_floats() < AttentionScratchFloats(c.head_dim, cache.n_ctx())) {
    return InvalidArgumentError("kv cache was made for a different model");
  }
  if (tokens.empty()) return InvalidArgumentError("no tokens to run");
  if (pos < 0 || pos > cache.n_past()) {
    return InvalidArgumentError("position " + std::to_string(pos) + " is past the cache end " +
                                std::to_string(cache.n_past()));
  }
  if (static_cast<int64_t>(pos) + static_cast<int64_t>(tokens.size()) > cache.n_ctx()) {
    return OutOfRangeError("context full: " + std::to_string(pos) + " + " +
                           std::to_string(tokens.size()) + " tokens exceed n_ctx " +
                           std::to_string(cache.n_ctx()));
  }
  for (int32_t id : tokens) {
    if (id < 0 || id >= c.n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                  std::to_string(c.n_vocab) + ")");
    }
  }
  const int n_total = static_cast<int>(tokens.size());
  for (int start = 0; start < n_total; start += max_batch_) {
    const int n = std::min(max_batch_, n_total - start);
    const int pos0 = pos + start;
    // Entries past the rewind point are stale from here on.
    cache.set_n_past(std::min(cache.n_past(), pos0));
    Embed(tokens.subspan(start, n));
    for (int i = 0; i < n; ++i) positions_[i] = pos0 + i;
    rope_.Compute(std::span<const int32_t>(positions_.data(), n));
    for (int il = 0; il < c.n_layer; ++il) ForwardLayer(il, cache, pos0, n);
    cache.set_n_past(pos0 + n);
    if (logits != nullptr) {
      if (all_logits) {
        Logits(0, n, logits + static_cast<size_t>(start) * c.n_vocab);
      } else if (start + n == n_total) {
        Logits(n - 1, 1, logits);
      }
    }
  }
  return Status::Ok();
}

void DenseModel::Embed(std::span<const int32_t> tokens) {
  const MatrixView& e = weights_.token_embd;
  const int n_embd = config_.n_embd;
  float* x = x_.data();
  pool_.ParallelFor(static_cast<int64_t>(tokens.size()), 8, [&](int64_t i) {
    const auto* row = static_cast<const uint8_t*>(e.data) + tokens[i] * e.row_bytes;
    kernels::DequantizeRow(e.type, row, x + i * n_embd, n_embd);
  });
}

void DenseModel::Logits(int first_row, int n_rows, float* out) {
  const int n_embd = config_.n_embd;
  RmsNormRows(x_.data() + static_cast<size_t>(first_row) * n_embd, weights_.output_norm,
              xn_.data(), n_rows, n_embd, config_.rms_eps, pool_);
  Project(weights_.output, xn_.data(), n_rows, out);
}

void DenseModel::Project(const MatrixView& w, const float* x, int n, float* y) {
  kernels::MatMul(w, x, n, y, scratch_.data(), pool_);
}

void DenseModel::NormInput(const float* weight, int n) {
  RmsNormRows(x_.data(), weight, xn_.data(), n, config_.n_embd, config_.rms_eps, pool_);
}

void DenseModel::ProjectQkv(const LayerWeights& w, KvCache& cache, int il, int pos0, int n) {
  const ModelConfig& c = config_;
  float* k = cache.k(il, pos0);
  float* v = cache.v(il, pos0);
  Project(w.wq, xn_.data(), n, q_.data());
  Project(w.wk, xn_.data(), n, k);
  Project(w.wv, xn_.data(), n, v);
  if (w.bq != nullptr) AddBiasRows(q_.data(), w.bq, n, c.q_dim(), pool_);
  if (w.bk != nullptr) AddBiasRows(k, w.bk, n, c.kv_dim(), pool_);
  if (w.bv != nullptr) AddBiasRows(v, w.bv, n, c.kv_dim(), pool_);
}

void DenseModel::NormHeads(const LayerWeights& w, KvCache& cache, int il, int pos0, int n) {
  const ModelConfig& c = config_;
  RmsNormRows(q_.data(), w.q_norm, q_.data(), static_cast<int64_t>(n) * c.n_head, c.head_dim,
              c.rms_eps, pool_);
  float* k = cache.k(il, pos0);
  RmsNormRows(k, w.k_norm, k, static_cast<int64_t>(n) * c.n_head_kv, c.head_dim, c.rms_eps,
              pool_);
}

void DenseModel::ApplyRope(KvCache& cache, int il, int pos0, int n) {
  const ModelConfig& c = config_;
  rope_.Apply(q_.data(), n, c.n_head, c.head_dim, c.q_dim(), pool_);
  rope_.Apply(cache.k(il, pos0), n, c.n_head_kv, c.head_dim, c.kv_dim(), pool_);
}

void DenseModel::AttendAndProject(const LayerWeights& w, KvCache& cache, int il, int pos0,
                                  int n) {
  const ModelConfig& c = config_;
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = c.n_head_kv;
  shape.head_dim = c.head_dim;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  Attention(q_.data(), c.q_dim(), cache, il, pos0, n, shape, attn_.data(), c.q_dim(), pool_);
  Project(w.wo, attn_.data(), n, out_.data());
  if (w.bo != nullptr) AddBiasRows(out_.data(), w.bo, n, c.n_embd, pool_);
  AddInPlace(x_.data(), out_.data(), static_cast<int64_t>(n) * c.n_embd, pool_);
}

void DenseModel::FeedForward(const LayerWeights& w, int n) {
  const ModelConfig& c = config_;
  NormInput(w.ffn_norm, n);
  Project(w.gate, xn_.data(), n, gate_.data());
  Project(w.up, xn_.data(), n, up_.data());
  SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(n) * c.n_ff, pool_);
  Project(w.down, gate_.data(), n, out_.data());
  AddInPlace(x_.data(), out_.data(), static_cast<int64_t>(n) * c.n_embd, pool_);
}

}  // namespace llmux
