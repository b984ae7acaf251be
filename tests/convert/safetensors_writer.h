// Test-only: writes .safetensors files (u64 header length | JSON header | data) and turns a GGUF
// model back into a Hugging Face checkpoint, the inverse of what `llmux model import` does,
// written here from the format and naming rules (not from the importer's code), so that an
// import of the result can be compared with the original GGUF.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::testing {

struct StTensor {
  std::string name;
  std::string dtype;           // "F32", "BF16", "F8_E4M3", ...
  std::vector<int64_t> shape;  // PyTorch order
  std::string bytes;
};

inline void PutU64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// The file's bytes; the header is padded with spaces to a multiple of 8, as the format allows.
inline std::string SafetensorsBytes(const std::vector<StTensor>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out;
  PutU64(out, h.size());
  out += h;
  for (const auto& t : tensors) out += t.bytes;
  return out;
}

inline void WriteBytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A GGUF tensor dequantized to F32 by the kernels, in ggml order (ne[0] fastest).
inline std::vector<float> TensorF32(const gguf::TensorInfo& t) {
  const int64_t cols = t.ne[0], rows = t.n_elements() / cols;
  const size_t row_bytes = *RowBytes(t.type, cols);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < rows; ++r) {
    kernels::DequantizeRow(t.type, t.data + r * row_bytes, out.data() + r * cols, cols);
  }
  return out;
}

// GGUF block part -> Hugging Face layer part (llama.cpp's tensor_mapping for these models).
inline const std::map<std::string, std::string>& HfLayerNames() {
  static const std::map<std::string, std::string> m = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"attn_q_a.weight", "self_attn.q_a_proj.weight"},
      {"attn_q_a_norm.weight", "self_attn.q_a_layernorm.weight"},
      {"attn_q_b.weight", "self_attn.q_b_proj.weight"},
      {"attn_kv_a_mqa.weight", "self_attn.kv_a_proj_with_mqa.weight"},
      {"attn_kv_a_norm.weight", "self_attn.kv_a_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", "mlp.gate.weight"},
      {"exp_probs_b.bias", "mlp.gate.e_score_correction_bias"},
      {"ffn_gate_shexp.weight", "mlp.shared_experts.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_experts.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_experts.down_proj.weight"},
  };
  return m;
}

struct ExportOptions {
  bool llama_rope_permute = false;  // undo GGUF's adjacent-pair order for llama q/k
  int n_head = 0, n_head_kv = 0;
  int shards = 1;  // > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json
};

// Writes the tensors of `g` as a checkpoint in `dir` (F32). Returns the number of HF tensors.
inline int ExportCheckpoint(const gguf::GgufFile& g, const std::filesystem::path& dir,
                            const ExportOptions& o) {
  std::vector<StTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, std::vector<float> v) {
    out.push_back({std::move(name), "F32", std::move(shape), F32Bytes(v)});
  };
  for (const auto& t : g.tensors()) {
    std::vector<float> v = TensorF32(t);
    std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
    if (t.name == "token_embd.weight") {
      add("model.embed_tokens.weight", shape, v);
      continue;
    }
    if (t.name == "output_norm.weight") {
      add("model.norm.weight", shape, v);
      continue;
    }
    if (t.name == "output.weight") {
      add("lm_head.weight", shape, v);
      continue;
    }
    const size_t dot = t.name.find('.', 4);
    const std::string layer = t.name.substr(4, dot - 4);
    const std::string part = t.name.substr(dot + 1);
    const std::string prefix = "model.layers." + layer + ".";
    if (part == "attn_v_b.weight") continue;  // merged with attn_k_b below
    if (part == "attn_k_b.weight") {
      // kv_b_proj rows per head h: nope rows of k (k_b transposed back), then v rows.
      const gguf::TensorInfo* vb = g.FindTensor("blk." + layer + ".attn_v_b.weight");
      std::vector<float> vv = TensorF32(*vb);
      const int64_t nope = t.ne[0], kv_lora = t.ne[1], heads = t.ne[2], vdim = vb->ne[1];
      std::vector<float> kv(static_cast<size_t>(heads * (nope + vdim) * kv_lora));
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t l = 0; l < kv_lora; ++l) {
          for (int64_t i = 0; i < nope; ++i)
            kv[((h * (nope + vdim) + i) * kv_lora + l)] = v[(h * kv_lora + l) * nope + i];
          for (int64_t j = 0; j < vdim; ++j)
            kv[((h * (nope + vdim) + nope + j) * kv_lora + l)] = vv[(h * vdim + j) * kv_lora + l];
        }
      }
      add(prefix + "self_attn.kv_b_proj.weight", {heads * (nope + vdim), kv_lora}, kv);
      continue;
    }
    if (part.size() > 12 && part.substr(part.size() - 12) == "_exps.weight") {
      const std::string proj = part.substr(4, part.size() - 16);  // gate, up, down
      const int64_t cols = t.ne[0], rows = t.ne[1], n = t.ne[2];
      for (int64_t e = 0; e < n; ++e) {
        std::vector<float> one(v.begin() + e * rows * cols, v.begin() + (e + 1) * rows * cols);
        add(prefix + "mlp.experts." + std::to_string(e) + "." + proj + "_proj.weight", {rows, cols},
            one);
      }
      continue;
    }
    if (o.llama_rope_permute && (part == "attn_q.weight" || part == "attn_k.weight")) {
      // GGUF row h*hd + 2j + t came from Hugging Face row h*hd + t*hd/2 + j.
      const int64_t cols = t.ne[0], rows = t.ne[1];
      const int64_t heads = part == "attn_q.weight" ? o.n_head : o.n_head_kv, hd = rows / heads;
      std::vector<float> hf(v.size());
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < hd / 2; ++j)
          for (int64_t s = 0; s < 2; ++s)
            std::memcpy(&hf[(h * hd + s * hd / 2 + j) * cols], &v[(h * hd + 2 * j + s) * cols],
                        cols * sizeof(float));
      v = std::move(hf);
    }
    add(prefix + HfLayerNames().at(part), shape, v);
  }
  std::filesystem::create_directories(dir);
  if (o.shards <= 1) {
    WriteBytes(dir / "model.safetensors", SafetensorsBytes(out));
    return static_cast<int>(out.size());
  }
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  for (int s = 0; s < o.shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof(file), "model-%05d-of-%05d.safetensors", s + 1, o.shards);
    std::vector<StTensor> part;
    for (size_t i = static_cast<size_t>(s); i < out.size(); i += static_cast<size_t>(o.shards)) {
      part.push_back(out[i]);
      index["weight_map"][out[i].name] = file;
    }
    WriteBytes(dir / file, SafetensorsBytes(part));
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(1);
  return static_cast<int>(out.size());
}

// tokenizer.json + tokenizer_config.json from a GGUF vocabulary, as Hugging Face stores them:
// model tokens in model.vocab, control and user-defined tokens in added_tokens, padding left out.
inline void ExportTokenizer(const gguf::GgufFile& g, const std::filesystem::path& dir,
                            nlohmann::json config) {
  auto tokens = *g.GetStringArray("tokenizer.ggml.tokens");
  auto types = *g.GetIntArray("tokenizer.ggml.token_type");
  const bool spm = *g.GetString("tokenizer.ggml.model") == "llama";
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json added = nlohmann::json::array();
  for (size_t id = 0; id < tokens.size(); ++id) {
    const int64_t type = types[id];
    if (type == 1 || type == 6) {
      vocab[tokens[id]] = id;
    } else if (type == 2 || type == 3 || type == 4) {
      if (spm) vocab[tokens[id]] = id;  // SentencePiece keeps every piece in the model
      added.push_back({{"id", id}, {"content", tokens[id]}, {"special", type != 4}});
    }
  }
  nlohmann::json merges = nlohmann::json::array();
  if (auto m = g.GetStringArray("tokenizer.ggml.merges"); m.ok()) {
    for (const auto& s : *m) {
      const size_t sp = s.find(' ');
      merges.push_back({s.substr(0, sp), s.substr(sp + 1)});
    }
  }
  nlohmann::json model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}};
  if (spm) {
    model["byte_fallback"] = true;
    model["unk_token"] = "<unk>";
  }
  nlohmann::json tj = {{"version", "1.0"}, {"added_tokens", added}, {"model", model}};
  if (spm) {  // spaces become "▁", and "▁" goes first unless the vocabulary says not (Gemma)
    nlohmann::json steps = nlohmann::json::array();
    if (g.GetBool("tokenizer.ggml.add_space_prefix").value_or(true))
      steps.push_back({{"type", "Prepend"}, {"prepend", "\u2581"}});
    steps.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}});
    tj["normalizer"] = {{"type", "Sequence"}, {"normalizers", steps}};
  }
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  if (auto tmpl = g.GetString("tokenizer.chat_template")) config["chat_template"] = *tmpl;
  std::ofstream(dir / "tokenizer_config.json") << config.dump(1);
}

}  // namespace llmux::testing
