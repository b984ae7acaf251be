#include "engine/models/weights.h"

#include <cstring>
#include <limits>

namespace llmux {

std::string ShapeString(const std::vector<int64_t>& ne) {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "}";
}

Result<const gguf::TensorInfo*> TensorLoader::Find(const std::string& name,
                                                   std::vector<int64_t> shape) {
  const gguf::TensorInfo* t = file_.FindTensor(name);
  if (t == nullptr) return InvalidArgumentError("missing tensor '" + name + "'");
  // Trailing dims of 1 are the same shape (ggml pads ne with ones).
  std::vector<int64_t> ne = t->ne;
  while (ne.size() > shape.size() && ne.back() == 1) ne.pop_back();
  if (ne != shape) {
    return InvalidArgumentError("tensor '" + name + "' has shape " + ShapeString(t->ne) +
                                ", expected " + ShapeString(shape));
  }
  if (t->data == nullptr) return DataLossError("tensor '" + name + "' has no data");
  return t;
}

Result<MatrixView> TensorLoader::Matrix(const std::string& name, int64_t cols, int64_t rows) {
  return MatrixOfShape(name, {cols, rows});
}

Result<MatrixView> TensorLoader::Stacked(const std::string& name, int64_t cols, int64_t rows, int64_t n) {
  return MatrixOfShape(name, {cols, rows, n});
}

Result<MatrixView> TensorLoader::MatrixOfShape(const std::string& name, std::vector<int64_t> shape) {
  const int64_t cols = shape[0];
  int64_t rows = 1;
  for (size_t i = 1; i < shape.size(); ++i) rows *= shape[i];
  LLMUX_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, Find(name, std::move(shape)));
  if (!backend_.SupportsWeights(t->type)) {
    return UnimplementedError("tensor '" + name + "' has type " +
                              std::string(Traits(t->type).name) +
                              ", which matrix multiplication does not support");
  }
  std::optional<size_t> row_bytes = RowBytes(t->type, cols);
  if (!row_bytes) {
    return InvalidArgumentError("tensor '" + name + "': row length " + std::to_string(cols) +
                                " is not a multiple of the " + std::string(Traits(t->type).name) +
                                " block size");
  }
  if (t->nbytes != *row_bytes * static_cast<uint64_t>(rows)) {
    return DataLossError("tensor '" + name + "' holds " + std::to_string(t->nbytes) +
                         " bytes, expected " + std::to_string(*row_bytes * rows));
  }
  bytes_loaded_ += t->nbytes;
  return MatrixView{t->type, rows, cols, t->data, *row_bytes};
}

Result<const float*> TensorLoader::Vector(const std::string& name, int64_t n) {
  LLMUX_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, Find(name, {n}));
  if (t->type != DType::kF32) {
    return UnimplementedError("tensor '" + name + "' has type " +
                              std::string(Traits(t->type).name) + ", expected f32");
  }
  if (t->nbytes != static_cast<uint64_t>(n) * sizeof(float)) {
    return DataLossError("tensor '" + name + "' has the wrong byte size");
  }
  if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
    return InvalidArgumentError("tensor '" + name + "' is not 4-byte aligned");
  }
  bytes_loaded_ += t->nbytes;
  return reinterpret_cast<const float*>(t->data);
}

Result<const float*> TensorLoader::OptionalVector(const std::string& name, int64_t n) {
  if (!Has(name)) return static_cast<const float*>(nullptr);
  return Vector(name, n);
}

namespace {

Status LoadAttention(TensorLoader& loader, const ModelConfig& c, const std::string& p,
                     LayerWeights& w) {
  const int64_t e = c.n_embd, q = c.q_dim(), kv = c.kv_dim();
  LLMUX_ASSIGN_OR_RETURN(w.wq, loader.Matrix(p + "attn_q.weight", e, q));
  LLMUX_ASSIGN_OR_RETURN(w.wk, loader.Matrix(p + "attn_k.weight", e, kv));
  LLMUX_ASSIGN_OR_RETURN(w.wv, loader.Matrix(p + "attn_v.weight", e, kv));
  LLMUX_ASSIGN_OR_RETURN(w.wo, loader.Matrix(p + "attn_output.weight", q, e));
  if (c.qkv_bias) {
    LLMUX_ASSIGN_OR_RETURN(w.bq, loader.Vector(p + "attn_q.bias", q));
    LLMUX_ASSIGN_OR_RETURN(w.bk, loader.Vector(p + "attn_k.bias", kv));
    LLMUX_ASSIGN_OR_RETURN(w.bv, loader.Vector(p + "attn_v.bias", kv));
  }
  LLMUX_ASSIGN_OR_RETURN(w.bo, loader.OptionalVector(p + "attn_output.bias", e));
  if (c.qk_norm) {
    LLMUX_ASSIGN_OR_RETURN(w.q_norm, loader.Vector(p + "attn_q_norm.weight", c.head_dim));
    LLMUX_ASSIGN_OR_RETURN(w.k_norm, loader.Vector(p + "attn_k_norm.weight", c.head_dim));
  }
  return Status::Ok();
}

Status LoadLatentAttention(TensorLoader& loader, const ModelConfig& c, const std::string& p,
                           LayerWeights& w) {
  const ModelConfig::Mla& m = c.mla;
  const int64_t e = c.n_embd, n_rot = c.rope.n_rot;
  const int64_t q_out = static_cast<int64_t>(c.n_head) * (m.qk_nope + n_rot);
  if (m.q_lora > 0) {
    LLMUX_ASSIGN_OR_RETURN(w.wq_a, loader.Matrix(p + "attn_q_a.weight", e, m.q_lora));
    LLMUX_ASSIGN_OR_RETURN(w.q_a_norm, loader.Vector(p + "attn_q_a_norm.weight", m.q_lora));
    LLMUX_ASSIGN_OR_RETURN(w.wq_b, loader.Matrix(p + "attn_q_b.weight", m.q_lora, q_out));
  } else {
    LLMUX_ASSIGN_OR_RETURN(w.wq, loader.Matrix(p + "attn_q.weight", e, q_out));
  }
  LLMUX_ASSIGN_OR_RETURN(w.wkv_a, loader.Matrix(p + "attn_kv_a_mqa.weight", e, m.kv_lora + n_rot));
  LLMUX_ASSIGN_OR_RETURN(w.kv_a_norm, loader.Vector(p + "attn_kv_a_norm.weight", m.kv_lora));
  if (!loader.Has(p + "attn_k_b.weight") && loader.Has(p + "attn_kv_b.weight")) {
    return UnimplementedError("tensor '" + p + "attn_kv_b.weight' is not split into attn_k_b and "
                              "attn_v_b: convert the model again with a current converter");
  }
  LLMUX_ASSIGN_OR_RETURN(w.wk_b, loader.Stacked(p + "attn_k_b.weight", m.qk_nope, m.kv_lora, c.n_head));
  LLMUX_ASSIGN_OR_RETURN(w.wv_b, loader.Stacked(p + "attn_v_b.weight", m.kv_lora, m.v_head, c.n_head));
  LLMUX_ASSIGN_OR_RETURN(w.wo, loader.Matrix(p + "attn_output.weight",
                                             static_cast<int64_t>(c.n_head) * m.v_head, e));
  return Status::Ok();
}

Status LoadExperts(TensorLoader& loader, const ModelConfig& c, const std::string& p,
                   LayerWeights& w) {
  const int64_t e = c.n_embd;
  LLMUX_ASSIGN_OR_RETURN(w.router, loader.Matrix(p + "ffn_gate_inp.weight", e, c.n_expert));
  if (w.router.type != DType::kF32) {
    return UnimplementedError("tensor '" + p + "ffn_gate_inp.weight' must be f32");
  }
  LLMUX_ASSIGN_OR_RETURN(w.gate_exps, loader.Stacked(p + "ffn_gate_exps.weight", e, c.n_ff_exp, c.n_expert));
  LLMUX_ASSIGN_OR_RETURN(w.up_exps, loader.Stacked(p + "ffn_up_exps.weight", e, c.n_ff_exp, c.n_expert));
  LLMUX_ASSIGN_OR_RETURN(w.down_exps, loader.Stacked(p + "ffn_down_exps.weight", c.n_ff_exp, e, c.n_expert));
  LLMUX_ASSIGN_OR_RETURN(w.expert_bias, loader.OptionalVector(p + "exp_probs_b.bias", c.n_expert));
  if (c.n_expert_shared > 0) {
    const int64_t n_sh = static_cast<int64_t>(c.n_ff_exp) * c.n_expert_shared;
    LLMUX_ASSIGN_OR_RETURN(w.gate_shexp, loader.Matrix(p + "ffn_gate_shexp.weight", e, n_sh));
    LLMUX_ASSIGN_OR_RETURN(w.up_shexp, loader.Matrix(p + "ffn_up_shexp.weight", e, n_sh));
    LLMUX_ASSIGN_OR_RETURN(w.down_shexp, loader.Matrix(p + "ffn_down_shexp.weight", n_sh, e));
  }
  return Status::Ok();
}

Status LoadLayer(TensorLoader& loader, const ModelConfig& c, int il, LayerWeights& w) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t e = c.n_embd;
  LLMUX_ASSIGN_OR_RETURN(w.attn_norm, loader.Vector(p + "attn_norm.weight", e));
  LLMUX_RETURN_IF_ERROR(c.is_mla() ? LoadLatentAttention(loader, c, p, w)
                                   : LoadAttention(loader, c, p, w));
  LLMUX_ASSIGN_OR_RETURN(w.ffn_norm, loader.Vector(p + "ffn_norm.weight", e));
  if (c.moe_layer(il)) return LoadExperts(loader, c, p, w);
  LLMUX_ASSIGN_OR_RETURN(w.gate, loader.Matrix(p + "ffn_gate.weight", e, c.n_ff));
  LLMUX_ASSIGN_OR_RETURN(w.up, loader.Matrix(p + "ffn_up.weight", e, c.n_ff));
  LLMUX_ASSIGN_OR_RETURN(w.down, loader.Matrix(p + "ffn_down.weight", c.n_ff, e));
  return Status::Ok();
}

}  // namespace

Result<ModelWeights> LoadWeights(const gguf::GgufFile& file, const Backend& backend,
                                 ModelConfig& c, uint64_t* weight_bytes_per_token) {
  TensorLoader loader(file, backend);
  ModelWeights w;
  const gguf::TensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr) return InvalidArgumentError("missing tensor 'token_embd.weight'");
  if (embd->ne.size() < 2 || embd->ne[1] <= 0 ||
      embd->ne[1] > std::numeric_limits<int32_t>::max()) {
    return InvalidArgumentError("tensor 'token_embd.weight' has shape " + ShapeString(embd->ne) +
                                ", expected {" + std::to_string(c.n_embd) + ", n_vocab}");
  }
  c.n_vocab = static_cast<int>(embd->ne[1]);
  LLMUX_ASSIGN_OR_RETURN(w.token_embd, loader.Matrix("token_embd.weight", c.n_embd, c.n_vocab));
  const uint64_t embd_bytes = loader.bytes_loaded();
  LLMUX_ASSIGN_OR_RETURN(w.output_norm, loader.Vector("output_norm.weight", c.n_embd));
  c.tied_output = !loader.Has("output.weight");
  if (c.tied_output) {
    w.output = w.token_embd;
  } else {
    LLMUX_ASSIGN_OR_RETURN(w.output, loader.Matrix("output.weight", c.n_embd, c.n_vocab));
  }
  if (loader.Has("rope_freqs.weight")) {
    LLMUX_ASSIGN_OR_RETURN(const float* ff, loader.Vector("rope_freqs.weight", c.rope.n_rot / 2));
    w.rope_freqs.assign(ff, ff + c.rope.n_rot / 2);
    c.rope_freq_factors = true;
  }
  w.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LLMUX_RETURN_IF_ERROR(LoadLayer(loader, c, il, w.layers[il]));
  }
  // A decode step reads every loaded tensor once, except the embedding table (one row),
  // which is read in full as the output matrix when tied, and the experts, of which a token
  // reads n_expert_used.
  if (weight_bytes_per_token != nullptr) {
    uint64_t unread = c.tied_output ? 0 : embd_bytes;
    if (c.n_expert > 0) {
      for (const LayerWeights& l : w.layers) {  // dense layers have no experts: 0 bytes
        for (const MatrixView* m : {&l.gate_exps, &l.up_exps, &l.down_exps}) {
          const uint64_t bytes = m->row_bytes * static_cast<uint64_t>(m->rows);
          unread += bytes / c.n_expert * (c.n_expert - c.n_expert_used);
        }
      }
    }
    *weight_bytes_per_token = loader.bytes_loaded() - unread;
  }
  return w;
}

}  // namespace llmux
