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

Status DenseModel::Forward(KvCache& cache, std::span<const int32_t> tokens, int pos, float* logits,
                           bool all_logits) {
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
      return InvalidArgumentError("token id " + std::to_string(id) +
                                  " is outside the vocabulary [0, " + std::to_string(c.n_vocab) +
                                  ")");
    }
  }
  const int n_total = static_cast<int>(tokens.size());
  for (int start = 0; start < n_total; start += max_batch_) {
    Batch b;
    b.n = std::min(max_batch_, n_total - start);
    b.pos0 = pos + start;
    const bool last_chunk = start + b.n == n_total;
    // Entries past the rewind point are stale from here on.
    cache.set_n_past(std::min(cache.n_past(), b.pos0));
    Embed(tokens.subspan(start, b.n));
    for (int i = 0; i < b.n; ++i) positions_[i] = b.pos0 + i;
    rope_.Compute(std::span<const int32_t>(positions_.data(), b.n));
    for (int il = 0; il < c.n_layer; ++il) {
      Batch layer = b;
      if (il == c.n_layer - 1) {
        if (logits == nullptr) {
          layer.first = b.n;  // only K and V of the last layer are needed
        } else if (!all_logits) {
          layer.first = last_chunk ? b.n - 1 : b.n;
        }
      }
      ForwardLayer(il, cache, layer);
    }
    cache.set_n_past(b.pos0 + b.n);
    if (logits != nullptr) {
      if (all_logits) {
        Logits(0, b.n, logits + static_cast<size_t>(start) * c.n_vocab);
      } else if (last_chunk) {
        Logits(b.n - 1, 1, logits);
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
  RmsNormRows(x_.data() + static_cast<size_t>(first_row) * n_embd, weights_.output_norm, xn_.data(),
              n_rows, n_embd, config_.rms_eps, pool_);
  Project(weights_.output, xn_.data(), n_rows, out);
}

void DenseModel::Project(const MatrixView& w, const float* x, int n, float* y) {
  kernels::MatMul(w, x, n, y, scratch_.data(), pool_);
}

void DenseModel::NormInput(const float* weight, const Batch& b) {
  RmsNormRows(x_.data(), weight, xn_.data(), b.n, config_.n_embd, config_.rms_eps, pool_);
}

void DenseModel::ProjectQkv(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  const ModelConfig& c = config_;
  float* k = cache.k(il, b.pos0);
  float* v = cache.v(il, b.pos0);
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  if (b.first == 0) {
    // Q, K and V of every token: one pass over the three matrices.
    const kernels::MatMulOut outs[] = {{w.wq, q}, {w.wk, k}, {w.wv, v}};
    kernels::MatMulMany(outs, xn_.data(), b.n, scratch_.data(), pool_);
  } else {
    Project(w.wk, xn_.data(), b.n, k);
    Project(w.wv, xn_.data(), b.n, v);
    if (b.n_out() > 0) {
      Project(w.wq, xn_.data() + static_cast<size_t>(b.first) * c.n_embd, b.n_out(), q);
    }
  }
  if (w.bk != nullptr) AddBiasRows(k, w.bk, b.n, c.kv_dim(), pool_);
  if (w.bv != nullptr) AddBiasRows(v, w.bv, b.n, c.kv_dim(), pool_);
  if (b.n_out() == 0) return;
  if (w.bq != nullptr) AddBiasRows(q, w.bq, b.n_out(), c.q_dim(), pool_);
}

void DenseModel::NormHeads(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  const ModelConfig& c = config_;
  float* k = cache.k(il, b.pos0);
  RmsNormRows(k, w.k_norm, k, static_cast<int64_t>(b.n) * c.n_head_kv, c.head_dim, c.rms_eps,
              pool_);
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  RmsNormRows(q, w.q_norm, q, static_cast<int64_t>(b.n_out()) * c.n_head, c.head_dim, c.rms_eps,
              pool_);
}

void DenseModel::ApplyRope(KvCache& cache, int il, const Batch& b) {
  const ModelConfig& c = config_;
  rope_.Apply(cache.k(il, b.pos0), 0, b.n, c.n_head_kv, c.head_dim, c.kv_dim(), pool_);
  rope_.Apply(q_.data() + static_cast<size_t>(b.first) * c.q_dim(), b.first, b.n_out(), c.n_head,
              c.head_dim, c.q_dim(), pool_);
}

void DenseModel::AttendAndProject(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = c.n_head_kv;
  shape.head_dim = c.head_dim;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  float* attn = attn_.data() + static_cast<size_t>(b.first) * c.q_dim();
  Attention(q_.data() + static_cast<size_t>(b.first) * c.q_dim(), c.q_dim(), cache, il,
            b.pos0 + b.first, b.n_out(), shape, attn, c.q_dim(), pool_);
  float* out = out_.data() + static_cast<size_t>(b.first) * c.n_embd;
  Project(w.wo, attn, b.n_out(), out);
  if (w.bo != nullptr) AddBiasRows(out, w.bo, b.n_out(), c.n_embd, pool_);
  AddInPlace(x_.data() + static_cast<size_t>(b.first) * c.n_embd, out,
             static_cast<int64_t>(b.n_out()) * c.n_embd, pool_);
}

void DenseModel::FeedForward(const LayerWeights& w, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  const int n = b.n_out();
  float* x = x_.data() + static_cast<size_t>(b.first) * c.n_embd;
  float* xn = xn_.data() + static_cast<size_t>(b.first) * c.n_embd;
  RmsNormRows(x, w.ffn_norm, xn, n, c.n_embd, c.rms_eps, pool_);
  const kernels::MatMulOut outs[] = {{w.gate, gate_.data()}, {w.up, up_.data()}};
  kernels::MatMulMany(outs, xn, n, scratch_.data(), pool_);
  SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(n) * c.n_ff, pool_);
  Project(w.down, gate_.data(), n, out_.data());
  AddInPlace(x, out_.data(), static_cast<int64_t>(n) * c.n_embd, pool_);
}

}  // namespace llmux
