#include "engine/convert/tensor_types.h"

#include <cctype>

namespace llmux::convert {

namespace {

bool Contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ggml_n_dims: dimensions up to the last one larger than 1.
int NonTrivialDims(const std::vector<int64_t>& ne) {
  int n = 1;
  for (size_t i = 1; i < ne.size(); ++i) {
    if (ne[i] > 1) n = static_cast<int>(i) + 1;
  }
  return n;
}

bool IsQuantizedType(DType t) { return Traits(t).block_size > 1; }

bool RowFits(DType t, int64_t ne0) { return ne0 % Traits(t).block_size == 0; }

// llama.cpp gives these layers more bits in *_K_M mixes.
bool UseMoreBits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

}  // namespace

std::optional<QuantizeTarget> ParseQuantizeTarget(std::string_view name) {
  std::string s;
  for (char c : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return QuantizeTarget::kF32;
  if (s == "f16") return QuantizeTarget::kF16;
  if (s == "bf16") return QuantizeTarget::kBF16;
  if (s == "q8_0") return QuantizeTarget::kQ8_0;
  if (s == "q4_0") return QuantizeTarget::kQ4_0;
  if (s == "q4_k_m") return QuantizeTarget::kQ4_K_M;
  return std::nullopt;
}

const char* QuantizeTargetName(QuantizeTarget target) {
  switch (target) {
    case QuantizeTarget::kF32: return "f32";
    case QuantizeTarget::kF16: return "f16";
    case QuantizeTarget::kBF16: return "bf16";
    case QuantizeTarget::kQ8_0: return "q8_0";
    case QuantizeTarget::kQ4_0: return "q4_0";
    case QuantizeTarget::kQ4_K_M: return "q4_k_m";
  }
  return "?";
}

uint32_t FileTypeOf(QuantizeTarget target) {
  switch (target) {
    case QuantizeTarget::kF32: return 0;
    case QuantizeTarget::kF16: return 1;
    case QuantizeTarget::kQ4_0: return 2;
    case QuantizeTarget::kQ8_0: return 7;
    case QuantizeTarget::kQ4_K_M: return 15;
    case QuantizeTarget::kBF16: return 32;
  }
  return 0;
}

DType DefaultType(QuantizeTarget target) {
  switch (target) {
    case QuantizeTarget::kF32: return DType::kF32;
    case QuantizeTarget::kF16: return DType::kF16;
    case QuantizeTarget::kBF16: return DType::kBF16;
    case QuantizeTarget::kQ8_0: return DType::kQ8_0;
    case QuantizeTarget::kQ4_0: return DType::kQ4_0;
    case QuantizeTarget::kQ4_K_M: return DType::kQ4_K;
  }
  return DType::kF32;
}

bool IsQuantizable(std::string_view name, const std::vector<int64_t>& ne) {
  if (!EndsWith(name, "weight") || ne.empty() || NonTrivialDims(ne) < 2) return false;
  for (std::string_view skip : {"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight",
                                "attn_rel_b.weight"}) {
    if (Contains(name, skip)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

int LayerOf(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int layer = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    if (layer > 100000000) return -1;
    layer = layer * 10 + (name[i] - '0');
  }
  if (i >= name.size() || name[i] != '.') return -1;
  return layer;
}

bool LlamaCppTensorOrder(std::string_view a, std::string_view b) {
  int la = LayerOf(a), lb = LayerOf(b);
  if (la != lb) return la < lb;
  return a < b;
}

std::vector<DType> PlanTensorTypes(const std::vector<TensorShape>& tensors, QuantizeTarget target,
                                   const QuantizeOptions& options, int n_layer, int n_expert) {
  const DType base = DefaultType(target);
  const bool refine = !options.pure && IsQuantizedType(base);
  const bool q4_k_m = target == QuantizeTarget::kQ4_K_M;

  bool has_output = false;
  int n_attention_wv = 0;
  for (const auto& t : tensors) {
    if (t.name == "output.weight") has_output = true;
    if (Contains(t.name, "attn_v.weight") || Contains(t.name, "attn_qkv.weight") ||
        Contains(t.name, "attn_kv_b.weight")) {
      ++n_attention_wv;
    }
  }
  int i_attention_wv = 0;
  int i_ffn_down = 0;

  std::vector<DType> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (!IsQuantizable(t.name, t.ne)) {
      out.push_back(t.type);
      continue;
    }
    DType type = base;
    const int64_t ne0 = t.ne[0];
    if (refine) {
      const std::string& name = t.name;
      if (name == "output.weight" || (!has_output && name == "token_embd.weight")) {
        if (!RowFits(type, ne0)) {
          type = DType::kQ8_0;
        } else if (type != DType::kQ8_0) {
          type = DType::kQ6_K;
        }
      } else if (name == "token_embd.weight") {
        // No change for the targets we write.
      } else if (Contains(name, "attn_v.weight")) {
        if (q4_k_m && UseMoreBits(i_attention_wv, n_attention_wv)) type = DType::kQ6_K;
        if (n_expert == 8) type = DType::kQ8_0;
        ++i_attention_wv;
      } else if (Contains(name, "attn_k.weight")) {
        if (n_expert == 8) type = DType::kQ8_0;
      } else if (Contains(name, "ffn_down")) {
        int i_layer = n_expert > 1 ? LayerOf(name) : i_ffn_down;
        if (q4_k_m && i_layer >= 0 && UseMoreBits(i_layer, n_layer)) type = DType::kQ6_K;
        ++i_ffn_down;
      } else if (Contains(name, "attn_output.weight")) {
        if (q4_k_m && n_expert == 8) type = DType::kQ6_K;  // llama.cpp: Q5_K
      } else if (Contains(name, "attn_qkv.weight")) {
        if (q4_k_m) type = DType::kQ6_K;  // llama.cpp: Q5_K
      }
    }
    if (t.name == "token_embd.weight" && options.token_embedding_type) {
      type = *options.token_embedding_type;
    }
    if (t.name == "output.weight" && options.output_tensor_type) {
      type = *options.output_tensor_type;
    }
    // Rows that are not a whole number of blocks fall back like llama.cpp does.
    if (!RowFits(type, ne0)) {
      if (type == DType::kQ4_K) {
        type = DType::kQ5_0;
      } else if (type == DType::kQ6_K) {
        type = DType::kQ8_0;
      }
      if (!RowFits(type, ne0)) type = DType::kF16;
    }
    out.push_back(type);
  }
  return out;
}

}  // namespace llmux::convert
