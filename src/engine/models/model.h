// The model interface: load a decoder-only transformer from a GGUF file and run its
// forward pass, either over one sequence whose state is a whole KvCache (Forward), or over
// chunks of many sequences at once that share a paged KvCache (ForwardBatch: continuous
// batching, each weight matrix read once per step for all of them).
//
//   auto file = gguf::GgufFile::Open(path);              // shared: the weights point into it
//   auto model = Model::Load(std::move(*file), n_threads);
//   auto cache = (*model)->NewCache(n_ctx);
//   (*model)->Forward(**cache, prompt_ids, 0, logits, false);   // prefill
//   (*model)->Forward(**cache, {&next, 1}, n_prompt, logits, false);   // one decode step
//
// A Model is not thread-safe: it owns its activation buffers and thread pool, so one
// Forward call runs at a time (each call itself uses all of the pool's threads).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/backend/kv_cache.h"
#include "engine/backend/moe_routing.h"
#include "engine/backend/rope.h"

namespace llmux {

// How an embedding model pools its hidden states (GGUF `<arch>.pooling_type`).
enum class PoolingType { kUnspecified, kNone, kMean, kCls, kLast, kRank };

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name, informational
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim =
      0;  // per-head width of q/k/v (attention.key_length); may differ from n_embd/n_head
  int n_ff = 0;
  int n_vocab = 0;  // rows of token_embd
  int n_ctx_train = 0;
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;  // same as rope.theta, kept for the api.md shape
  RopeConfig rope;
  bool tied_output = false;        // no output.weight: token_embd is the output matrix
  bool qkv_bias = false;           // attn_q/k/v carry biases (qwen2)
  bool qk_norm = false;            // RMSNorm of each q/k head before RoPE (qwen3)
  bool rope_freq_factors = false;  // rope_freqs.weight present (llama 3.1 style scaling)
  int value_dim = 0;  // attention.value_length; equals head_dim except with MLA
  // Softmax scale of attention scores; 0 means 1/sqrt(head_dim).
  float attn_scale = 0.0f;
  // Multi-head latent attention (deepseek2). With MLA the cache holds one compressed "kv
  // head" per position, [kv_lora normalised latent | n_rot roped key], and the queries are
  // absorbed into that space, so attention runs as MQA with head_dim = kv_lora + n_rot
  // (n_head_kv 1) and V is the latent part of each cached row (value_dim = kv_lora).
  struct Mla {
    int q_lora = 0;   // attention.q_lora_rank; 0: q comes straight from attn_q
    int kv_lora = 0;  // attention.kv_lora_rank; > 0 means MLA
    int qk_nope = 0;  // per-head query/key dims without RoPE (key_length_mla - n_rot)
    int v_head = 0;   // attention.value_length_mla: per-head output width after attn_v_b
  } mla;
  bool is_mla() const { return mla.kv_lora > 0; }
  // Mixture of experts (qwen3moe, deepseek2): a layer's FFN is n_expert SwiGLU experts of
  // width n_ff_exp, of which a router picks n_expert_used per token. 0: dense FFN of width
  // n_ff. With n_layer_dense_lead, the first layers keep the dense FFN.
  int n_expert = 0;
  int n_expert_used = 0;
  int n_ff_exp = 0;
  int n_layer_dense_lead = 0;
  int n_expert_shared = 0;  // shared experts, as one SwiGLU of width n_ff_exp * n_expert_shared
  MoeRouting routing;
  PoolingType pooling = PoolingType::kUnspecified;

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
  bool moe_layer(int il) const { return n_expert > 0 && il >= n_layer_dense_lead; }
};

// Which logits a chunk of ForwardBatch wants.
enum class ChunkLogits { kNone, kLast, kAll };
// What a chunk returns of its final hidden states (after the output norm), for embeddings:
// the last token's row, or the sum of every token's row.
enum class ChunkHidden { kNone, kLast, kSum };

// Tokens [pos0, pos0 + tokens.size()) of one sequence. The cache already holds its K/V for
// positions [0, pos0); `blocks` is its block table, covering at least pos0 + tokens.size()
// positions.
struct SequenceChunk {
  std::span<const int32_t> tokens;
  int pos0 = 0;
  std::span<const int32_t> blocks;
  ChunkLogits logits = ChunkLogits::kLast;
  // One generated token (decode). Single chunks must come first in a batch: they run on the
  // single-token kernels and the others on the batch kernels, so that every row gets the
  // same arithmetic whatever else shares the step (see Backend::MatMul).
  bool single = false;
  ChunkHidden hidden = ChunkHidden::kNone;
  float* hidden_out = nullptr;  // host memory, n_embd floats: where `hidden` goes
};

class Model {
 public:
  virtual ~Model() = default;

  // Reads the config from `<arch>.*` keys, checks every tensor's presence, type and shape,
  // and allocates all activation memory. Unknown architectures and malformed files are
  // refused with a Status naming the reason (e.g. "missing tensor 'token_embd.weight'").
  static Result<std::unique_ptr<Model>> Load(std::shared_ptr<const gguf::GgufFile> file,
                                             int n_threads);

  virtual const ModelConfig& config() const = 0;

  // A cache for one sequence of up to n_ctx positions (Forward), F32 unless kv_type says.
  virtual Result<std::unique_ptr<KvCache>> NewCache(int n_ctx, DType kv_type = DType::kF32) = 0;

  // A paged cache for ForwardBatch: n_blocks blocks of block_size positions, for sequences
  // of up to max_seq_len positions.
  virtual Result<std::unique_ptr<KvCache>> NewPagedCache(DType kv_type, int n_blocks,
                                                         int block_size, int max_seq_len) = 0;

  // Runs one step of continuous batching: every chunk's tokens in one pass. The chunks'
  // tokens together are at most max_batch(). Writes n_vocab logits per wanted row, chunk
  // by chunk in order (one row for kLast, one per token for kAll), and each chunk's
  // `hidden` rows to its hidden_out. A sequence's results do not depend on the other chunks
  // of the step.
  virtual Status ForwardBatch(KvCache& cache, std::span<const SequenceChunk> chunks,
                              float* logits) = 0;

  // Runs tokens at positions [pos, pos+n) of one sequence; the cache must hold positions
  // < pos (pos <= cache.n_past(); a smaller pos rewinds the sequence). Writes n_vocab
  // logits for the last token, or n * n_vocab (row per token) when all_logits.
  // logits may be null to skip the output head (e.g. the first part of a prefill).
  virtual Status Forward(KvCache& cache, std::span<const int32_t> tokens, int pos, float* logits,
                         bool all_logits) = 0;

  // Weight bytes read per decoded token (every matrix once, plus norms): for GB/s figures.
  virtual uint64_t WeightBytes() const = 0;

  // Tokens the model processes per internal batch; larger Forward calls are split.
  virtual int max_batch() const = 0;
  virtual int n_threads() const = 0;
};

}  // namespace llmux
