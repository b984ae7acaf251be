#include "engine/models/dense_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/models/attention.h"
#include "engine/models/ffn.h"
#include "engine/models/ffn_moe.h"
#include "engine/models/rms_norm.h"

namespace llmux {

DenseModel::DenseModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                       int n_threads)
    : config_(std::move(config)), file_(std::move(file)), pool_(n_threads) {}

Status DenseModel::Init() {
  LLMUX_ASSIGN_OR_RETURN(weights_, LoadWeights(*file_, config_, &weight_bytes_));
  const ModelConfig& c = config_;
  if (!c.is_mla() && c.value_dim != c.head_dim) {
    return UnimplementedError("attention.value_length " + std::to_string(c.value_dim) +
                              " differs from key_length " + std::to_string(c.head_dim));
  }
  max_batch_ = kMaxBatch;
  const size_t b = static_cast<size_t>(max_batch_);
  size_t scratch = 0;
  auto need = [&](const MatrixView& w) {
    if (w.data == nullptr) return;
    scratch = std::max(scratch, kernels::MatMulScratchBytes(w.type, w.cols, max_batch_));
  };
  need(weights_.output);
  size_t n_ff = 0;  // widest FFN hidden layer
  bool moe = false;
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& l = weights_.layers[il];
    for (const MatrixView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down, &l.router,
                                &l.gate_exps, &l.up_exps, &l.down_exps, &l.gate_shexp,
                                &l.up_shexp, &l.down_shexp, &l.wq_a, &l.wq_b, &l.wkv_a, &l.wk_b,
                                &l.wv_b}) {
      need(*w);
    }
    moe = moe || c.moe_layer(il);
    n_ff = std::max<size_t>(n_ff, c.moe_layer(il) ? std::max<size_t>(c.n_ff_exp, l.gate_shexp.rows)
                                                  : static_cast<size_t>(c.n_ff));
  }
  bool ok = x_.Allocate(b * c.n_embd) && xn_.Allocate(b * c.n_embd) &&
            q_.Allocate(b * c.q_dim()) && k_.Allocate(b * c.kv_dim()) &&
            v_.Allocate(b * c.kv_dim()) && attn_.Allocate(b * c.q_dim()) &&
            gate_.Allocate(b * n_ff) && up_.Allocate(b * n_ff) &&
            out_.Allocate(b * c.n_embd) && scratch_.Allocate(scratch);
  if (c.is_mla()) {
    const ModelConfig::Mla& m = c.mla;
    const size_t widest = static_cast<size_t>(std::max({m.qk_nope, m.kv_lora, m.v_head}));
    ok = ok && q_lat_.Allocate(b * c.n_head * (m.qk_nope + c.rope.n_rot)) &&
         q_lora_.Allocate(b * std::max(m.q_lora, 1)) && head_in_.Allocate(b * widest) &&
         head_out_.Allocate(b * widest) && v_heads_.Allocate(b * c.n_head * m.v_head);
  }
  if (moe) {
    ok = ok && router_.Allocate(b * c.n_expert) && expert_in_.Allocate(b * c.n_embd) &&
         moe_out_.Allocate(b * c.n_embd);
    picks_.assign(b * c.n_expert_used, 0);
    pick_weights_.assign(b * c.n_expert_used, 0.0f);
    route_scratch_.assign(2 * static_cast<size_t>(c.n_expert), 0.0f);
    expert_rows_.reserve(b);
    expert_weights_.reserve(b);
  }
  if (!ok) return ResourceExhaustedError("cannot allocate activation buffers");
  tokens_.assign(b, 0);
  positions_.assign(b, 0);
  slots_.assign(b, 0);
  seqs_.assign(b, AttentionSeq{});
  task_offsets_.assign(b + 1, 0);
  logit_rows_.assign(b, 0);
  rope_.Init(c.rope, max_batch_, weights_.rope_freqs);
  return Status::Ok();
}

Result<std::unique_ptr<KvCache>> DenseModel::NewCache(int n_ctx, DType kv_type) {
  if (n_ctx <= 0) {
    return InvalidArgumentError("context size must be positive, got " + std::to_string(n_ctx));
  }
  // One block spanning the whole context: the sequence's rows are contiguous.
  return NewPagedCache(kv_type, 1, n_ctx, n_ctx);
}

Result<std::unique_ptr<KvCache>> DenseModel::NewPagedCache(DType kv_type, int n_blocks,
                                                           int block_size, int max_seq_len) {
  if (max_seq_len <= 0) {
    return InvalidArgumentError("sequence length must be positive, got " +
                                std::to_string(max_seq_len));
  }
  KvCacheOptions o;
  o.n_layer = config_.n_layer;
  o.kv_dim = config_.kv_dim();
  o.head_dim = config_.head_dim;
  o.type = kv_type;
  o.block_size = block_size;
  o.n_blocks = n_blocks;
  o.n_threads = pool_.size();
  o.scratch_floats = AttentionScratchFloats(config_.head_dim, max_seq_len);
  o.k_only = config_.is_mla();
  return KvCache::Create(o);
}

Status DenseModel::CheckCache(const KvCache& cache) const {
  const ModelConfig& c = config_;
  if (cache.n_layer() != c.n_layer || cache.kv_dim() != c.kv_dim() ||
      cache.head_dim() != c.head_dim || cache.k_only() != c.is_mla() ||
      cache.n_threads() < pool_.size()) {
    return InvalidArgumentError("kv cache was made for a different model");
  }
  return Status::Ok();
}

namespace {
Status CheckTokens(std::span<const int32_t> tokens, int n_vocab) {
  if (tokens.empty()) return InvalidArgumentError("no tokens to run");
  for (int32_t id : tokens) {
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(id) +
                                  " is outside the vocabulary [0, " + std::to_string(n_vocab) +
                                  ")");
    }
  }
  return Status::Ok();
}
}  // namespace

Status DenseModel::Forward(KvCache& cache, std::span<const int32_t> tokens, int pos, float* logits,
                           bool all_logits) {
  LLMUX_RETURN_IF_ERROR(CheckCache(cache));
  if (cache.n_blocks() != 1 ||
      cache.scratch_floats() < AttentionScratchFloats(config_.head_dim, cache.n_ctx())) {
    return InvalidArgumentError("Forward needs a single-sequence cache (NewCache)");
  }
  LLMUX_RETURN_IF_ERROR(CheckTokens(tokens, config_.n_vocab));
  if (pos < 0 || pos > cache.n_past()) {
    return InvalidArgumentError("position " + std::to_string(pos) + " is past the cache end " +
                                std::to_string(cache.n_past()));
  }
  if (static_cast<int64_t>(pos) + static_cast<int64_t>(tokens.size()) > cache.n_ctx()) {
    return OutOfRangeError("context full: " + std::to_string(pos) + " + " +
                           std::to_string(tokens.size()) + " tokens exceed n_ctx " +
                           std::to_string(cache.n_ctx()));
  }
  const int n_total = static_cast<int>(tokens.size());
  for (int start = 0; start < n_total; start += max_batch_) {
    SequenceChunk chunk;
    chunk.pos0 = pos + start;
    chunk.tokens = tokens.subspan(start, std::min(max_batch_, n_total - start));
    chunk.blocks = identity_blocks_;
    chunk.single = chunk.tokens.size() == 1;
    const bool last_chunk = start + static_cast<int>(chunk.tokens.size()) == n_total;
    float* out = nullptr;
    if (logits == nullptr) {
      chunk.logits = ChunkLogits::kNone;
    } else if (all_logits) {
      chunk.logits = ChunkLogits::kAll;
      out = logits + static_cast<size_t>(start) * config_.n_vocab;
    } else {
      chunk.logits = last_chunk ? ChunkLogits::kLast : ChunkLogits::kNone;
      out = logits;
    }
    // Entries past the rewind point are stale from here on.
    cache.set_n_past(std::min(cache.n_past(), chunk.pos0));
    RunBatch(cache, std::span<const SequenceChunk>(&chunk, 1), out);
    cache.set_n_past(chunk.pos0 + static_cast<int>(chunk.tokens.size()));
  }
  return Status::Ok();
}

Status DenseModel::ForwardBatch(KvCache& cache, std::span<const SequenceChunk> chunks,
                                float* logits) {
  LLMUX_RETURN_IF_ERROR(CheckCache(cache));
  if (chunks.empty()) return InvalidArgumentError("no sequences to run");
  int64_t n_total = 0;
  bool seen_batch = false;
  for (const SequenceChunk& ch : chunks) {
    if (ch.single && (ch.tokens.size() != 1 || seen_batch)) {
      return InvalidArgumentError("single chunks must hold one token and come first");
    }
    seen_batch = seen_batch || !ch.single;
    LLMUX_RETURN_IF_ERROR(CheckTokens(ch.tokens, config_.n_vocab));
    n_total += static_cast<int64_t>(ch.tokens.size());
    const int64_t end = ch.pos0 + static_cast<int64_t>(ch.tokens.size());
    const int64_t bs = cache.block_size();
    if (ch.pos0 < 0 || static_cast<int64_t>(ch.blocks.size()) * bs < end) {
      return InvalidArgumentError("a sequence's block table does not cover positions [0, " +
                                  std::to_string(end) + ")");
    }
    if (cache.scratch_floats() < AttentionScratchFloats(config_.head_dim, static_cast<int>(end))) {
      return OutOfRangeError("a sequence of " + std::to_string(end) +
                             " positions is longer than the cache was made for");
    }
    for (int32_t block : ch.blocks.first(static_cast<size_t>((end + bs - 1) / bs))) {
      if (block < 0 || block >= cache.n_blocks()) {
        return InvalidArgumentError("block " + std::to_string(block) + " is not in the cache");
      }
    }
  }
  if (n_total > max_batch_) {
    return InvalidArgumentError("a batch of " + std::to_string(n_total) +
                                " tokens is larger than " + std::to_string(max_batch_));
  }
  RunBatch(cache, chunks, logits);
  return Status::Ok();
}

void DenseModel::RunBatch(KvCache& cache, std::span<const SequenceChunk> chunks, float* logits) {
  const ModelConfig& c = config_;
  const int bs = cache.block_size();
  int n = 0;
  int n_logit_rows = 0;
  int n_single = 0;         // leading decode rows
  int n_single_logits = 0;  // their logit rows, which come first too
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SequenceChunk& ch = chunks[i];
    const int len = static_cast<int>(ch.tokens.size());
    seqs_[i] = AttentionSeq{n, len, ch.pos0, ch.blocks.data(), ch.single};
    if (ch.single) {
      ++n_single;
      if (ch.logits != ChunkLogits::kNone) ++n_single_logits;
    }
    for (int t = 0; t < len; ++t) {
      const int pos = ch.pos0 + t;
      tokens_[n + t] = ch.tokens[t];
      positions_[n + t] = pos;
      slots_[n + t] = ch.blocks[pos / bs] * bs + pos % bs;
    }
    if (ch.logits == ChunkLogits::kAll) {
      for (int t = 0; t < len; ++t) logit_rows_[n_logit_rows++] = n + t;
    } else if (ch.logits == ChunkLogits::kLast) {
      logit_rows_[n_logit_rows++] = n + len - 1;
    }
    n += len;
  }
  Embed(n);
  rope_.Compute(std::span<const int32_t>(positions_.data(), n));

  Batch b;
  b.n = n;
  b.seqs = std::span<const AttentionSeq>(seqs_.data(), chunks.size());
  b.slots = slots_.data();
  b.n_single = n_single;
  // A single sequence's last layer runs on only the rows that give logits (a suffix).
  Batch last = b;
  AttentionSeq last_seq;
  if (chunks.size() == 1) {
    last.first = n_logit_rows == 0 ? n : logit_rows_[0];
    last_seq = AttentionSeq{last.first, n - last.first, chunks[0].pos0 + last.first,
                            chunks[0].blocks.data(), chunks[0].single};
    last.seqs = std::span<const AttentionSeq>(&last_seq, 1);
  }
  for (int il = 0; il < c.n_layer; ++il) ForwardLayer(il, cache, il == c.n_layer - 1 ? last : b);

  if (logits == nullptr || n_logit_rows == 0) return;
  bool contiguous = true;
  for (int i = 1; i < n_logit_rows; ++i) contiguous &= logit_rows_[i] == logit_rows_[0] + i;
  if (contiguous) {
    Logits(logit_rows_[0], n_logit_rows, n_single_logits, logits);
    return;
  }
  // Move the wanted rows together (in place: rows only move to smaller indices).
  for (int i = 0; i < n_logit_rows; ++i) {
    if (logit_rows_[i] == i) continue;
    std::copy_n(x_.data() + static_cast<size_t>(logit_rows_[i]) * c.n_embd, c.n_embd,
                x_.data() + static_cast<size_t>(i) * c.n_embd);
  }
  Logits(0, n_logit_rows, n_single_logits, logits);
}

void DenseModel::Embed(int n) {
  const MatrixView& e = weights_.token_embd;
  const int n_embd = config_.n_embd;
  float* x = x_.data();
  pool_.ParallelFor(n, 8, [&](int64_t i) {
    const auto* row = static_cast<const uint8_t*>(e.data) + tokens_[i] * e.row_bytes;
    kernels::DequantizeRow(e.type, row, x + i * n_embd, n_embd);
  });
}

void DenseModel::Logits(int first_row, int n_rows, int n_single, float* out) {
  const int n_embd = config_.n_embd;
  RmsNormRows(x_.data() + static_cast<size_t>(first_row) * n_embd, weights_.output_norm, xn_.data(),
              n_rows, n_embd, config_.rms_eps, pool_);
  Project(weights_.output, xn_.data(), n_rows, out, n_single);
}

void DenseModel::Project(const MatrixView& w, const float* x, int n, float* y, int n_single) {
  kernels::MatMul(w, x, n, y, scratch_.data(), pool_, n_single);
}

void DenseModel::NormInput(const float* weight, const Batch& b) {
  RmsNormRows(x_.data(), weight, xn_.data(), b.n, config_.n_embd, config_.rms_eps, pool_);
}

void DenseModel::ProjectQkv(const LayerWeights& w, KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  float* k = k_.data();
  float* v = v_.data();
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  if (b.first == 0) {
    // Q, K and V of every token: one pass over the three matrices.
    const kernels::MatMulOut outs[] = {{w.wq, q}, {w.wk, k}, {w.wv, v}};
    kernels::MatMulMany(outs, xn_.data(), b.n, scratch_.data(), pool_, b.n_single);
  } else {
    const kernels::MatMulOut outs[] = {{w.wk, k}, {w.wv, v}};
    kernels::MatMulMany(outs, xn_.data(), b.n, scratch_.data(), pool_, b.n_single);
    if (b.n_out() > 0) {
      Project(w.wq, xn_.data() + static_cast<size_t>(b.first) * c.n_embd, b.n_out(), q,
              b.single_from(b.first));
    }
  }
  if (w.bk != nullptr) AddBiasRows(k, w.bk, b.n, c.kv_dim(), pool_);
  if (w.bv != nullptr) AddBiasRows(v, w.bv, b.n, c.kv_dim(), pool_);
  if (b.n_out() == 0) return;
  if (w.bq != nullptr) AddBiasRows(q, w.bq, b.n_out(), c.q_dim(), pool_);
}

void DenseModel::NormHeads(const LayerWeights& w, KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  RmsNormRows(k_.data(), w.k_norm, k_.data(), static_cast<int64_t>(b.n) * c.n_head_kv, c.head_dim,
              c.rms_eps, pool_);
  float* q = q_.data() + static_cast<size_t>(b.first) * c.q_dim();
  RmsNormRows(q, w.q_norm, q, static_cast<int64_t>(b.n_out()) * c.n_head, c.head_dim, c.rms_eps,
              pool_);
}

void DenseModel::ApplyRope(KvCache&, int, const Batch& b) {
  const ModelConfig& c = config_;
  rope_.Apply(k_.data(), 0, b.n, c.n_head_kv, c.head_dim, c.kv_dim(), pool_);
  rope_.Apply(q_.data() + static_cast<size_t>(b.first) * c.q_dim(), b.first, b.n_out(), c.n_head,
              c.head_dim, c.q_dim(), pool_);
}

void DenseModel::AttendAndProject(const LayerWeights& w, KvCache& cache, int il, const Batch& b) {
  cache.Store(il, k_.data(), v_.data(), b.slots, b.n, pool_);
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  AttentionShape shape;
  shape.n_head = c.n_head;
  shape.n_head_kv = c.n_head_kv;
  shape.head_dim = c.head_dim;
  shape.scale = c.attn_scale > 0 ? c.attn_scale : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  Attention(q_.data(), c.q_dim(), cache, il, b.seqs, shape, attn_.data(), c.q_dim(),
            task_offsets_, pool_);
  const size_t first = static_cast<size_t>(b.first);
  float* out = out_.data() + first * c.n_embd;
  Project(w.wo, attn_.data() + first * c.q_dim(), b.n_out(), out, b.single_from(b.first));
  if (w.bo != nullptr) AddBiasRows(out, w.bo, b.n_out(), c.n_embd, pool_);
  AddInPlace(x_.data() + first * c.n_embd, out, static_cast<int64_t>(b.n_out()) * c.n_embd, pool_);
}

void DenseModel::FeedForward(const LayerWeights& w, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  const int n = b.n_out();
  float* x = x_.data() + static_cast<size_t>(b.first) * c.n_embd;
  float* xn = xn_.data() + static_cast<size_t>(b.first) * c.n_embd;
  RmsNormRows(x, w.ffn_norm, xn, n, c.n_embd, c.rms_eps, pool_);
  const kernels::MatMulOut outs[] = {{w.gate, gate_.data()}, {w.up, up_.data()}};
  kernels::MatMulMany(outs, xn, n, scratch_.data(), pool_, b.single_from(b.first));
  SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(n) * c.n_ff, pool_);
  Project(w.down, gate_.data(), n, out_.data(), b.single_from(b.first));
  AddInPlace(x, out_.data(), static_cast<int64_t>(n) * c.n_embd, pool_);
}

void DenseModel::FeedForwardMoe(const LayerWeights& w, const Batch& b) {
  if (b.n_out() == 0) return;
  const ModelConfig& c = config_;
  const int n = b.n_out();
  const int k = c.n_expert_used;
  const int n_single = b.single_from(b.first);  // rows [0, n_single) of these n are decode rows
  const size_t first = static_cast<size_t>(b.first);
  float* x = x_.data() + first * c.n_embd;
  float* xn = xn_.data() + first * c.n_embd;
  RmsNormRows(x, w.ffn_norm, xn, n, c.n_embd, c.rms_eps, pool_);
  Project(w.router, xn, n, router_.data(), n_single);
  for (int t = 0; t < n; ++t) {
    RouteExperts(router_.data() + static_cast<size_t>(t) * c.n_expert, w.expert_bias, c.n_expert,
                 k, c.routing, picks_.data() + static_cast<size_t>(t) * k,
                 pick_weights_.data() + static_cast<size_t>(t) * k, route_scratch_.data());
  }
  float* sum = moe_out_.data();
  std::fill_n(sum, static_cast<size_t>(n) * c.n_embd, 0.0f);
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
    for (int i = 0; i < m; ++i) {
      std::copy_n(xn + static_cast<size_t>(expert_rows_[i]) * c.n_embd, c.n_embd,
                  expert_in_.data() + static_cast<size_t>(i) * c.n_embd);
    }
    const kernels::MatMulOut outs[] = {{ExpertMatrix(w.gate_exps, e, c.n_ff_exp), gate_.data()},
                                       {ExpertMatrix(w.up_exps, e, c.n_ff_exp), up_.data()}};
    kernels::MatMulMany(outs, expert_in_.data(), m, scratch_.data(), pool_, e_single);
    SwiGlu(gate_.data(), up_.data(), static_cast<int64_t>(m) * c.n_ff_exp, pool_);
    Project(ExpertMatrix(w.down_exps, e, c.n_embd), gate_.data(), m, out_.data(), e_single);
    for (int i = 0; i < m; ++i) {
      const float weight = expert_weights_[i];
      const float* y = out_.data() + static_cast<size_t>(i) * c.n_embd;
      float* dst = sum + static_cast<size_t>(expert_rows_[i]) * c.n_embd;
      for (int d = 0; d < c.n_embd; ++d) dst[d] += weight * y[d];
    }
  }
  if (w.gate_shexp.data != nullptr) {
    // The shared experts see every row, unweighted.
    const int64_t n_sh = w.gate_shexp.rows;
    const kernels::MatMulOut outs[] = {{w.gate_shexp, gate_.data()}, {w.up_shexp, up_.data()}};
    kernels::MatMulMany(outs, xn, n, scratch_.data(), pool_, n_single);
    SwiGlu(gate_.data(), up_.data(), n * n_sh, pool_);
    Project(w.down_shexp, gate_.data(), n, out_.data(), n_single);
    AddInPlace(sum, out_.data(), static_cast<int64_t>(n) * c.n_embd, pool_);
  }
  AddInPlace(x, sum, static_cast<int64_t>(n) * c.n_embd, pool_);
}

}  // namespace llmux
