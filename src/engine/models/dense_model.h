// The common body of the decoder-only architectures (llama, qwen2, qwen3, qwen3moe,
// deepseek2): weight loading, activation buffers, batching of long inputs, embedding, output
// head, and the blocks that every layer is built from (attention_gqa.cc, attention_mla.cc,
// ffn_swiglu.cc, ffn_moe.cc). Each architecture file derives from it and writes its own
// ForwardLayer from these blocks. Everything runs through the Backend, which owns the
// activation buffers and the KV cache.
#pragma once

#include <memory>

#include "engine/backend/backend.h"
#include "engine/backend/rope.h"
#include "engine/models/model.h"
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
  int n_threads() const override { return backend_->n_threads(); }

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
  std::unique_ptr<Backend> backend_;

 private:
  Status CheckCache(const KvCache& cache) const;
  // Runs the checked chunks (at most max_batch_ tokens in all) through every layer and
  // writes the wanted logits.
  void RunBatch(KvCache& cache, std::span<const SequenceChunk> chunks, float* logits);
  void Embed(int n);
  void Logits(int first_row, int n_rows, int n_single, float* out);
  // Writes each chunk's wanted final hidden states (normed) to its hidden_out.
  void Hidden(std::span<const SequenceChunk> chunks);
  // Allocates the activation buffers and reserves the backend's matmul scratch.
  Status AllocateBuffers();

  std::shared_ptr<const gguf::GgufFile> file_;  // the weights point into its mapping
  RopeTable rope_;
  uint64_t weight_bytes_ = 0;
  int max_batch_ = kMaxBatch;

  // Activations, [token][features], allocated once in Init() from the backend.
  DeviceBuffer x_;          // residual stream, n_embd
  DeviceBuffer xn_;         // normalised input of a block, n_embd
  DeviceBuffer q_;          // queries, q_dim
  DeviceBuffer k_;          // keys of this batch, kv_dim (stored into the cache)
  DeviceBuffer v_;          // values of this batch, kv_dim
  DeviceBuffer attn_;       // attention output, q_dim
  DeviceBuffer gate_;       // FFN gate / hidden, n_ff
  DeviceBuffer up_;         // FFN up, n_ff
  DeviceBuffer out_;        // projection output before the residual add, n_embd
  // MLA only: the queries before absorption (n_head x (qk_nope + n_rot)), the q LoRA
  // (q_lora), and the expanded heads (n_head x v_head).
  DeviceBuffer q_lat_;
  DeviceBuffer q_lora_;
  DeviceBuffer v_heads_;
  // MoE only: router logits (n_expert per row), the picks (n_expert_used per row), an
  // expert's gathered input rows, and the weighted sum of the experts' outputs (n_embd).
  DeviceBuffer router_;
  std::vector<int32_t> picks_;
  std::vector<float> pick_weights_;
  std::vector<int32_t> expert_rows_;
  std::vector<float> expert_weights_;
  DeviceBuffer expert_in_;
  DeviceBuffer moe_out_;
  // Per-row and per-chunk bookkeeping of RunBatch, sized max_batch_.
  std::vector<int32_t> tokens_;
  std::vector<int32_t> positions_;
  std::vector<int32_t> slots_;
  std::vector<AttentionSeq> seqs_;
  std::vector<int32_t> logit_rows_;
  std::vector<int32_t> identity_blocks_{0};  // the single-sequence cache's one block
};

}  // namespace llmux
