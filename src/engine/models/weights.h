// Plain-data views of a model's weights inside the mapped GGUF file, and the loader that
// checks each tensor's presence, type and exact shape before a view is made.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/backend/backend.h"
#include "engine/models/model.h"

namespace llmux {

struct LayerWeights {
  const float* attn_norm = nullptr;   // [n_embd]
  MatrixView wq{}, wk{}, wv{}, wo{};  // q: q_dim x n_embd, k/v: kv_dim x n_embd, o: n_embd x q_dim
  const float* bq = nullptr;          // [q_dim], only with qkv_bias
  const float* bk = nullptr;          // [kv_dim]
  const float* bv = nullptr;          // [kv_dim]
  const float* bo = nullptr;          // [n_embd], optional
  const float* q_norm = nullptr;      // [head_dim], only with qk_norm
  const float* k_norm = nullptr;      // [head_dim]
  const float* ffn_norm = nullptr;    // [n_embd]
  MatrixView gate{}, up{}, down{};    // gate/up: n_ff x n_embd, down: n_embd x n_ff
  // MoE layers instead of gate/up/down: the router (n_expert x n_embd, F32) and every
  // expert's matrices stacked, expert e's rows at [e * rows_per_expert, +rows_per_expert)
  // (ExpertMatrix): gate/up n_ff_exp x n_embd each, down n_embd x n_ff_exp each.
  MatrixView router{};
  MatrixView gate_exps{}, up_exps{}, down_exps{};
  const float* expert_bias = nullptr;       // [n_expert] exp_probs_b: added for the picks only
  MatrixView gate_shexp{}, up_shexp{}, down_shexp{};  // shared experts, width n_ff_exp * n_shared
  // MLA (deepseek2) instead of wq/wk/wv: q = Wq_b.norm(Wq_a.x) (or wq with no q LoRA), each
  // head [qk_nope | n_rot]; the cache row [latent | k_rope] = Wkv_a.x with the latent
  // normalised; per head, k_b (kv_lora x qk_nope) absorbs q_nope into the latent and v_b
  // (v_head x kv_lora) expands the attended latent: both stacked by head (ExpertMatrix).
  MatrixView wq_a{}, wq_b{}, wkv_a{}, wk_b{}, wv_b{};
  const float* q_a_norm = nullptr;   // [q_lora]
  const float* kv_a_norm = nullptr;  // [kv_lora]
};


struct ModelWeights {
  MatrixView token_embd{};             // n_vocab x n_embd
  const float* output_norm = nullptr;  // [n_embd]
  MatrixView output{};                 // n_vocab x n_embd; token_embd when tied
  std::vector<float> rope_freqs;       // [n_rot / 2], optional frequency factors
  std::vector<LayerWeights> layers;
};

// Looks up tensors by name and makes views after checking them.
class TensorLoader {
 public:
  // Matrices must be of a type the backend multiplies.
  TensorLoader(const gguf::GgufFile& file, const Backend& backend)
      : file_(file), backend_(backend) {}

  bool Has(const std::string& name) const { return file_.FindTensor(name) != nullptr; }

  // A 2-D weight with ne = {cols, rows} of a type MatMul supports.
  Result<MatrixView> Matrix(const std::string& name, int64_t cols, int64_t rows);
  // A 3-D weight with ne = {cols, rows, n}: n matrices stacked, as one view of n * rows rows.
  Result<MatrixView> Stacked(const std::string& name, int64_t cols, int64_t rows, int64_t n);
  // A 1-D F32 tensor with ne = {n}.
  Result<const float*> Vector(const std::string& name, int64_t n);
  // As Vector, but absent is fine (returns nullptr).
  Result<const float*> OptionalVector(const std::string& name, int64_t n);

  // Bytes of all tensors handed out so far.
  uint64_t bytes_loaded() const { return bytes_loaded_; }

 private:
  Result<const gguf::TensorInfo*> Find(const std::string& name, std::vector<int64_t> shape);
  Result<MatrixView> MatrixOfShape(const std::string& name, std::vector<int64_t> shape);

  const gguf::GgufFile& file_;
  const Backend& backend_;
  uint64_t bytes_loaded_ = 0;
};

// Loads every tensor the config asks for (token_embd, output_norm, output or tied,
// optional rope_freqs, and each layer's attention and FFN weights). Sets
// config.n_vocab from token_embd and config.tied_output from the presence of output.weight.
Result<ModelWeights> LoadWeights(const gguf::GgufFile& file, const Backend& backend,
                                 ModelConfig& config, uint64_t* weight_bytes_per_token);

std::string ShapeString(const std::vector<int64_t>& ne);

}  // namespace llmux
