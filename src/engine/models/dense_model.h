// The common body of the decoder-only architectures (llama, qwen2, qwen3, qwen3moe,
// deepseek2): weight loading, activation buffers, batching of long inputs, embedding, output
// head, and the blocks that every layer is built from. Each architecture file derives from
// it and writes its own ForwardLayer from these blocks.
#pragma once

#include <memory>

#include "base/thread_pool.h"
#include "engine/models/aligned_buffer.h"
#include "engine/models/attention.h"
#include "engine/models/model.h"
#include "engine/models/rope.h"
#include "engine/models/weights.h"

namespace llmux {

// The rows of one internal batch: n tokens, possibly of several sequences. Every layer
// writes K and V of all n; only rows [first, n) need the layer's output. That is all rows
// except in the last layer of a single-sequence batch, where only the rows whose logits
// are wanted go on (none when the call wants no logits from this batch): attention, output
// projection and FFN skip the rest, as llama.cpp does.
struct Batch {
  int n = 0;
  int first = 0;
  std::span<const AttentionSeq> seqs;  // attention of rows [first, n), sequence by sequence
  const int32_t* slots = nullptr;      // cache slot of each row
  int n_single = 0;                    // rows [0, n_single) are decode tokens (MatMul's classes)
  int n_out() const { return n - first; }
  // Decode rows among the rows from `row` on.
  int single_from(int row) const { return n_single > row ? n_single - row : 0; }
};

class DenseModel : public Model {
 public:
  // Tokens per internal batch: the activation buffers hold this many rows.
  static constexpr int kMaxBatch = 512;

  const ModelConfig& config() const override { return config_; }
  Result<std::unique_ptr<KvCache>> NewCache(int n_ctx, DType kv_type) override;
  Result<std::unique_ptr<KvCache>> NewPagedCache(DType kv_type, int n_blocks, int block_size,
                                                 int max_seq_len) override;
  Status Forward(KvCache& cache, std::span<const int32_t> tokens, int pos, float* logits,
                 bool all_logits) override;
  Status ForwardBatch(KvCache& cache, std::span<const SequenceChunk> chunks,
                      float* logits) override;
  uint64_t WeightBytes() const override { return weight_bytes_; }
  int max_batch() const override { return max_batch_; }
  int n_threads() const override { return pool_.size(); }

 protected:
  DenseModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads);

  // Loads and checks the weights the config asks for and allocates all buffers. The
  // architecture's factory calls it after setting its config flags.
  Status Init();

  // Runs layer il over the batch, whose input rows are in x_.
  virtual void ForwardLayer(int il, KvCache& cache, const Batch& b) = 0;

  // ---- blocks for ForwardLayer; rows are token indices of the batch ----
  // xn_ = RMSNorm(x_) * weight, all rows.
  void NormInput(const float* weight, const Batch& b);
  // k_ = Wk.xn_ (+bk), v_ = Wv.xn_ (+bv) for all rows; q_ = Wq.xn_ (+bq) for rows [first, n).
  void ProjectQkv(const LayerWeights& w, KvCache& cache, int il, const Batch& b);
  // Per-head RMSNorm of q_ and k_ (qwen3 q_norm/k_norm).
  void NormHeads(const LayerWeights& w, KvCache& cache, int il, const Batch& b);
  // RoPE on q_ and k_.
  void ApplyRope(KvCache& cache, int il, const Batch& b);
  // Stores k_/v_ in the cache at the rows' slots; attn_ = causal attention of q_ over the
  // cache; then x_ += Wo.attn_ (+bo).
  void AttendAndProject(const LayerWeights& w, KvCache& cache, int il, const Batch& b);
  // Multi-head latent attention from xn_ (attention_mla.cc): the whole attention block of a
  // deepseek2 layer, x_ += Wo.attention.
  void AttendLatent(const LayerWeights& w, KvCache& cache, int il, const Batch& b);
  // x_ += Wdown.(silu(Wgate.xn) * Wup.xn), xn = RMSNorm(x_) * ffn_norm.
  void FeedForward(const LayerWeights& w, const Batch& b);
  // The same with a mixture of experts: x_ += sum over the router's picks e of
  // weight_e * Wdown_e.(silu(Wgate_e.xn) * Wup_e.xn) (RouteExperts), plus the shared experts'
  // SwiGLU when the layer has them. Each expert runs once over the rows routed to it,
  // gathered in row order, so decode rows stay single-token rows.
  void FeedForwardMoe(const LayerWeights& w, const Batch& b);

  ModelConfig config_;
  ModelWeights weights_;

 private:
  Status CheckCache(const KvCache& cache) const;
  // Runs the checked chunks (at most max_batch_ tokens in all) through every layer and
  // writes the wanted logits.
  void RunBatch(KvCache& cache, std::span<const SequenceChunk> chunks, float* logits);
  void Embed(int n);
  void Logits(int first_row, int n_rows, int n_single, float* out);
  // y[n x w.rows] = x[n x w.cols] . W^T, on the pool; the first n_single rows are decode tokens.
  void Project(const MatrixView& w, const float* x, int n, float* y, int n_single);
  // Per-head products (MLA): for each head h and row t of n, the w_h = ExpertMatrix(w, h,
  // rows) product of the `in_width` floats at x + t * x_stride + h * x_head, written to
  // y + t * y_stride + h * y_head.
  void ProjectHeads(const MatrixView& w, int64_t rows, const float* x, int64_t x_stride,
                    int64_t x_head, int n, float* y, int64_t y_stride, int64_t y_head,
                    int n_single);

  std::shared_ptr<const gguf::GgufFile> file_;  // the weights point into its mapping
  ThreadPool pool_;
  RopeTable rope_;
  uint64_t weight_bytes_ = 0;
  int max_batch_ = kMaxBatch;

  // Activations, [token][features], allocated once in Init().
  AlignedBuffer<float> x_;          // residual stream, n_embd
  AlignedBuffer<float> xn_;         // normalised input of a block, n_embd
  AlignedBuffer<float> q_;          // queries, q_dim
  AlignedBuffer<float> k_;          // keys of this batch, kv_dim (stored into the cache)
  AlignedBuffer<float> v_;          // values of this batch, kv_dim
  AlignedBuffer<float> attn_;       // attention output, q_dim
  AlignedBuffer<float> gate_;       // FFN gate / hidden, n_ff
  AlignedBuffer<float> up_;         // FFN up, n_ff
  AlignedBuffer<float> out_;        // projection output before the residual add, n_embd
  AlignedBuffer<uint8_t> scratch_;  // MatMul's quantized activations
  // MLA only: the queries before absorption (n_head x (qk_nope + n_rot)), the q LoRA
  // (q_lora), one head's gathered inputs and outputs, and the expanded heads (n_head x v_head).
  AlignedBuffer<float> q_lat_;
  AlignedBuffer<float> q_lora_;
  AlignedBuffer<float> head_in_;
  AlignedBuffer<float> head_out_;
  AlignedBuffer<float> v_heads_;
  // MoE only: router logits (n_expert per row), the picks (n_expert_used per row), an
  // expert's gathered input rows, and the weighted sum of the experts' outputs (n_embd).
  AlignedBuffer<float> router_;
  std::vector<float> route_scratch_;
  std::vector<int32_t> picks_;
  std::vector<float> pick_weights_;
  std::vector<int32_t> expert_rows_;
  std::vector<float> expert_weights_;
  AlignedBuffer<float> expert_in_;
  AlignedBuffer<float> moe_out_;
  // Per-row and per-chunk bookkeeping of RunBatch, sized max_batch_.
  std::vector<int32_t> tokens_;
  std::vector<int32_t> positions_;
  std::vector<int32_t> slots_;
  std::vector<AttentionSeq> seqs_;
  std::vector<int64_t> task_offsets_;
  std::vector<int32_t> logit_rows_;
  std::vector<int32_t> identity_blocks_{0};  // the single-sequence cache's one block
};

}  // namespace llmux
