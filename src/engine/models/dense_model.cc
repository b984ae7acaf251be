#include "engine/models/dense_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>


namespace llmux {

DenseModel::DenseModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                       int n_threads)
    : config_(std::move(config)), backend_(NewCpuBackend(n_threads)), file_(std::move(file)) {}

Status DenseModel::Init() {
  LLMUX_ASSIGN_OR_RETURN(weights_, LoadWeights(*file_, *backend_, config_, &weight_bytes_));
  const ModelConfig& c = config_;
  if (!c.is_mla() && c.value_dim != c.head_dim) {
    return UnimplementedError("attention.value_length " + std::to_string(c.value_dim) +
                              " differs from key_length " + std::to_string(c.head_dim));
  }
  max_batch_ = kMaxBatch;
  LLMUX_RETURN_IF_ERROR(AllocateBuffers());
  const size_t b = static_cast<size_t>(max_batch_);
  tokens_.assign(b, 0);
  positions_.assign(b, 0);
  slots_.assign(b, 0);
  seqs_.assign(b, AttentionSeq{});
  logit_rows_.assign(b, 0);
  rope_.Init(c.rope, max_batch_, weights_.rope_freqs);
  return Status::Ok();
}

Status DenseModel::AllocateBuffers() {
  const ModelConfig& c = config_;
  Backend& be = *backend_;
  // Each weight may move to the backend's memory, perhaps in a faster layout, then gets its
  // scratch. The tied output matrix is also the embedding table (slice_rows 0; the table
  // follows it); expert stacks are sliced per expert, the MLA head matrices per head
  // (MatMulHeads).
  // A weight the backend copied is no longer read from the file: its pages leave the process.
  auto give_to_backend = [&](MatrixView* w, int64_t slice_rows) -> Status {
    const MatrixView source = *w;
    LLMUX_RETURN_IF_ERROR(be.PrepareMatMul(w, slice_rows));
    if (w->data != source.data) {
      file_->ReleasePages(source.data, source.row_bytes * static_cast<size_t>(source.rows));
    }
    return Status::Ok();
  };
  auto prepare = [&](MatrixView* w, int64_t slice_rows) -> Status {
    if (w->data == nullptr) return Status::Ok();
    LLMUX_RETURN_IF_ERROR(give_to_backend(w, slice_rows));
    return be.ReserveMatMul(*w, max_batch_);
  };
  LLMUX_RETURN_IF_ERROR(prepare(&weights_.output, c.tied_output ? 0 : weights_.output.rows));
  if (c.tied_output) weights_.token_embd = weights_.output;
  size_t n_ff = 0;  // widest FFN hidden layer
  bool moe = false;
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& l = weights_.layers[il];
    for (MatrixView* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down, &l.gate_shexp,
                          &l.up_shexp, &l.down_shexp, &l.wq_a, &l.wq_b, &l.wkv_a}) {
      LLMUX_RETURN_IF_ERROR(prepare(w, w->rows));
    }
    LLMUX_RETURN_IF_ERROR(prepare(&l.router, 0));
    LLMUX_RETURN_IF_ERROR(prepare(&l.gate_exps, c.n_ff_exp));
    LLMUX_RETURN_IF_ERROR(prepare(&l.up_exps, c.n_ff_exp));
    LLMUX_RETURN_IF_ERROR(prepare(&l.down_exps, c.n_embd));
    if (c.is_mla()) {
      if (l.wk_b.data != nullptr) LLMUX_RETURN_IF_ERROR(give_to_backend(&l.wk_b, c.mla.kv_lora));
      if (l.wv_b.data != nullptr) LLMUX_RETURN_IF_ERROR(give_to_backend(&l.wv_b, c.mla.v_head));
      LLMUX_RETURN_IF_ERROR(be.ReserveMatMulHeads(l.wk_b, c.mla.kv_lora, max_batch_));
      LLMUX_RETURN_IF_ERROR(be.ReserveMatMulHeads(l.wv_b, c.mla.v_head, max_batch_));
    }
    moe = moe || c.moe_layer(il);
    n_ff = std::max<size_t>(n_ff, c.moe_layer(il) ? std::max<size_t>(c.n_ff_exp, l.gate_shexp.rows)
                                                  : static_cast<size_t>(c.n_ff));
  }
  const size_t b = static_cast<size_t>(max_batch_);
  auto alloc = [&](DeviceBuffer& buf, size_t n) -> Status {
    LLMUX_ASSIGN_OR_RETURN(buf, be.Allocate(n));
    return Status::Ok();
  };
  LLMUX_RETURN_IF_ERROR(alloc(x_, b * c.n_embd));
  LLMUX_RETURN_IF_ERROR(alloc(xn_, b * c.n_embd));
  LLMUX_RETURN_IF_ERROR(alloc(q_, b * c.q_dim()));
  LLMUX_RETURN_IF_ERROR(alloc(k_, b * c.kv_dim()));
  LLMUX_RETURN_IF_ERROR(alloc(v_, b * c.kv_dim()));
  LLMUX_RETURN_IF_ERROR(alloc(attn_, b * c.q_dim()));
  LLMUX_RETURN_IF_ERROR(alloc(gate_, b * n_ff));
  LLMUX_RETURN_IF_ERROR(alloc(up_, b * n_ff));
  LLMUX_RETURN_IF_ERROR(alloc(out_, b * c.n_embd));
  if (c.is_mla()) {
    const ModelConfig::Mla& m = c.mla;
    LLMUX_RETURN_IF_ERROR(alloc(q_lat_, b * c.n_head * (m.qk_nope + c.rope.n_rot)));
    LLMUX_RETURN_IF_ERROR(alloc(q_lora_, b * std::max(m.q_lora, 1)));
    LLMUX_RETURN_IF_ERROR(alloc(v_heads_, b * c.n_head * m.v_head));
  }
  if (moe) {
    LLMUX_RETURN_IF_ERROR(alloc(router_, b * c.n_expert));
    LLMUX_RETURN_IF_ERROR(alloc(expert_in_, b * c.n_embd));
    LLMUX_RETURN_IF_ERROR(alloc(moe_out_, b * c.n_embd));
    picks_.assign(b * c.n_expert_used, 0);
    pick_weights_.assign(b * c.n_expert_used, 0.0f);
    expert_rows_.reserve(b);
    expert_weights_.reserve(b);
  }
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
  KvCacheShape shape;
  shape.n_layer = config_.n_layer;
  shape.kv_dim = config_.kv_dim();
  shape.head_dim = config_.head_dim;
  shape.type = kv_type;
  shape.block_size = block_size;
  shape.n_blocks = n_blocks;
  shape.max_seq_len = max_seq_len;
  shape.k_only = config_.is_mla();
  return backend_->NewKvCache(shape);
}

Status DenseModel::CheckCache(const KvCache& cache) const {
  const ModelConfig& c = config_;
  if (cache.n_layer() != c.n_layer || cache.kv_dim() != c.kv_dim() ||
      cache.head_dim() != c.head_dim || cache.k_only() != c.is_mla() ||
      backend_->MaxSeqLen(cache) <= 0) {
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
  if (cache.n_blocks() != 1 || backend_->MaxSeqLen(cache) < cache.n_ctx()) {
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
    if (ch.hidden != ChunkHidden::kNone && ch.hidden_out == nullptr) {
      return InvalidArgumentError("a chunk that wants hidden states has nowhere to put them");
    }
    n_total += static_cast<int64_t>(ch.tokens.size());
    const int64_t end = ch.pos0 + static_cast<int64_t>(ch.tokens.size());
    const int64_t bs = cache.block_size();
    if (ch.pos0 < 0 || static_cast<int64_t>(ch.blocks.size()) * bs < end) {
      return InvalidArgumentError("a sequence's block table does not cover positions [0, " +
                                  std::to_string(end) + ")");
    }
    if (backend_->MaxSeqLen(cache) < end) {
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
  int first_hidden_row = std::numeric_limits<int>::max();
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
    if (ch.hidden == ChunkHidden::kSum) {
      first_hidden_row = std::min(first_hidden_row, n);
    } else if (ch.hidden == ChunkHidden::kLast) {
      first_hidden_row = std::min(first_hidden_row, n + len - 1);
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
  // A single sequence's last layer runs on only the rows that give logits or hidden states (a
  // suffix).
  Batch last = b;
  AttentionSeq last_seq;
  if (chunks.size() == 1) {
    last.first = std::min(n_logit_rows == 0 ? n : logit_rows_[0], first_hidden_row);
    last_seq = AttentionSeq{last.first, n - last.first, chunks[0].pos0 + last.first,
                            chunks[0].blocks.data(), chunks[0].single};
    last.seqs = std::span<const AttentionSeq>(&last_seq, 1);
  }
  for (int il = 0; il < c.n_layer; ++il) ForwardLayer(il, cache, il == c.n_layer - 1 ? last : b);

  if (first_hidden_row < n) Hidden(chunks);
  if (logits == nullptr || n_logit_rows == 0) return;
  bool contiguous = true;
  for (int i = 1; i < n_logit_rows; ++i) contiguous &= logit_rows_[i] == logit_rows_[0] + i;
  if (contiguous) {
    Logits(logit_rows_[0], n_logit_rows, n_single_logits, logits);
    return;
  }
  // Move the wanted rows together (in place: rows only move to smaller indices).
  backend_->CopyRows(x_.data(), c.n_embd, 0, x_.data(), c.n_embd, 0, n_logit_rows, 1, c.n_embd,
                     logit_rows_.data());
  Logits(0, n_logit_rows, n_single_logits, logits);
}

void DenseModel::Hidden(std::span<const SequenceChunk> chunks) {
  const int n_embd = config_.n_embd;
  int row = 0;
  for (const SequenceChunk& ch : chunks) {
    const int len = static_cast<int>(ch.tokens.size());
    if (ch.hidden != ChunkHidden::kNone) {
      const int first = ch.hidden == ChunkHidden::kLast ? row + len - 1 : row;
      const int n_rows = row + len - first;
      backend_->RmsNorm(x_.data() + static_cast<size_t>(first) * n_embd, weights_.output_norm,
                        xn_.data(), n_rows, n_embd, n_embd, config_.rms_eps);
      backend_->SumRowsToHost(xn_.data(), n_rows, n_embd, ch.hidden_out);
    }
    row += len;
  }
}

void DenseModel::Embed(int n) { backend_->Embed(weights_.token_embd, tokens_.data(), n, x_.data()); }

void DenseModel::Logits(int first_row, int n_rows, int n_single, float* out) {
  const int n_embd = config_.n_embd;
  backend_->RmsNorm(x_.data() + static_cast<size_t>(first_row) * n_embd, weights_.output_norm,
                    xn_.data(), n_rows, n_embd, n_embd, config_.rms_eps);
  backend_->MatMulToHost(weights_.output, xn_.data(), n_rows, out, n_single);
}

void DenseModel::NormInput(const float* weight, const Batch& b) {
  backend_->RmsNorm(x_.data(), weight, xn_.data(), b.n, config_.n_embd, config_.n_embd,
                    config_.rms_eps);
}

}  // namespace llmux
