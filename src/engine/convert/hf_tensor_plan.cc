#include "engine/convert/hf_tensor_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/convert/hf_dtype.h"
#include "engine/convert/hf_tensor_names.h"
#include "engine/convert/tensor_types.h"

namespace llmux::convert {

namespace {

constexpr std::string_view kScaleSuffix = "_scale_inv";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Where(const HfTensor& t) { return "tensor '" + t.name + "' in '" + t.file + "'"; }

std::vector<int64_t> Reversed(const std::vector<int64_t>& shape) {
  return {shape.rbegin(), shape.rend()};
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The GGUF tensors each architecture needs, per layer (dense / MoE FFN decided per layer).
std::vector<std::string> RequiredLayerTensors(const HfModelShape& s, int layer) {
  std::vector<std::string> parts = {"attn_norm.weight", "ffn_norm.weight", "attn_output.weight"};
  auto add = [&](std::initializer_list<const char*> more) {
    for (const char* p : more) parts.emplace_back(p);
  };
  if (s.arch == "deepseek2") {
    if (s.q_lora) {
      add({"attn_q_a.weight", "attn_q_a_norm.weight", "attn_q_b.weight"});
    } else {
      add({"attn_q.weight"});
    }
    add({"attn_kv_a_mqa.weight", "attn_kv_a_norm.weight", "attn_k_b.weight", "attn_v_b.weight"});
    if (layer < s.first_dense || s.n_expert == 0) {
      add({"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"});
    } else {
      add({"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight",
           "ffn_down_exps.weight"});
      if (s.n_shared_experts > 0)
        add({"ffn_gate_shexp.weight", "ffn_up_shexp.weight", "ffn_down_shexp.weight"});
    }
  } else {
    add({"attn_q.weight", "attn_k.weight", "attn_v.weight"});
    if (s.arch == "qwen2") add({"attn_q.bias", "attn_k.bias", "attn_v.bias"});
    if (s.arch == "qwen3" || s.arch == "qwen3moe")
      add({"attn_q_norm.weight", "attn_k_norm.weight"});
    if (s.arch == "qwen3moe") {
      add({"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight",
           "ffn_down_exps.weight"});
    } else {
      add({"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"});
    }
  }
  const std::string blk = "blk." + std::to_string(layer) + ".";
  for (auto& p : parts) p = blk + p;
  return parts;
}

struct ExpertGroup {
  std::vector<HfSource> experts;
  int layer = -1;
};

}  // namespace

Result<std::vector<PlannedTensor>> PlanHfTensors(const HfCheckpoint& ck, const HfModelShape& s) {
  std::unordered_map<std::string, const HfTensor*> by_name;
  for (const HfTensor& t : ck.tensors) {
    if (!by_name.emplace(t.name, &t).second) {
      return InvalidArgumentError(Where(t) + " appears in two files");
    }
  }
  std::vector<PlannedTensor> plan;
  std::map<std::string, ExpertGroup> experts;  // by GGUF name
  std::set<std::string> used_scales;

  for (const HfTensor& t : ck.tensors) {
    if (EndsWith(t.name, kScaleSuffix) || IsIgnoredHfTensor(t.name)) continue;
    auto mapped = MapHfTensorName(t.name);
    if (!mapped) {
      return InvalidArgumentError(Where(t) + " has no GGUF name for architecture " + s.arch);
    }
    if (mapped->layer >= s.n_layer) continue;  // multi-token-prediction layers
    if (mapped->name == "output.weight" && s.tied) continue;
    if (t.shape.empty() || t.shape.size() > 2) {
      return InvalidArgumentError(Where(t) + " has shape " + ShapeText(t.shape) +
                                  "; weights are 1-D or 2-D");
    }
    HfSource src{&t, nullptr};
    if (auto it = by_name.find(t.name + std::string(kScaleSuffix)); it != by_name.end()) {
      src.scale = it->second;
      used_scales.insert(it->second->name);
    }
    if (IsFp8DType(t.dtype) && src.scale == nullptr) {
      return InvalidArgumentError(Where(t) + " is " + t.dtype + " but '" + t.name +
                                  "_scale_inv' is missing");
    }
    if (mapped->expert >= 0) {
      if (mapped->expert >= s.n_expert) {
        return InvalidArgumentError(Where(t) + ": expert " + std::to_string(mapped->expert) +
                                    " but config.json has " + std::to_string(s.n_expert) +
                                    " experts");
      }
      ExpertGroup& g = experts[mapped->name];
      g.layer = mapped->layer;
      g.experts.resize(static_cast<size_t>(s.n_expert));
      g.experts[static_cast<size_t>(mapped->expert)] = src;
      continue;
    }
    PlannedTensor p;
    p.name = mapped->name;
    p.ne = Reversed(t.shape);
    p.sources = {src};
    const bool is_q = EndsWith(p.name, "attn_q.weight") || EndsWith(p.name, "attn_q.bias");
    const bool is_k = EndsWith(p.name, "attn_k.weight") || EndsWith(p.name, "attn_k.bias");
    if (s.arch == "llama" && (is_q || is_k)) {
      p.transform = HfTransform::kPermuteRope;
      p.n_heads = is_q ? s.n_head : s.n_head_kv;
      const int64_t rows = t.shape[0];
      if (p.n_heads <= 0 || rows % (2 * p.n_heads) != 0) {
        return InvalidArgumentError(Where(t) + ": " + std::to_string(rows) +
                                    " rows do not split into " + std::to_string(p.n_heads) +
                                    " heads of an even size");
      }
    }
    if (EndsWith(p.name, "attn_kv_b.weight")) {
      const int64_t per_head = int64_t{s.qk_nope} + s.v_head;
      if (t.shape.size() != 2 || t.shape[0] != per_head * s.n_head) {
        return InvalidArgumentError(Where(t) + " has shape " + ShapeText(t.shape) + "; expected [" +
                                    std::to_string(per_head * s.n_head) +
                                    ", kv_lora_rank] (num_attention_heads x (qk_nope_head_dim + "
                                    "v_head_dim))");
      }
      const int64_t kv_lora = t.shape[1];
      const std::string blk =
          p.name.substr(0, p.name.size() - std::string("attn_kv_b.weight").size());
      PlannedTensor kb = p, vb = p;
      kb.name = blk + "attn_k_b.weight";
      kb.ne = {s.qk_nope, kv_lora, s.n_head};
      kb.transform = HfTransform::kKvbToKb;
      vb.name = blk + "attn_v_b.weight";
      vb.ne = {kv_lora, s.v_head, s.n_head};
      vb.transform = HfTransform::kKvbToVb;
      for (PlannedTensor* x : {&kb, &vb}) {
        x->n_heads = s.n_head;
        x->qk_nope = s.qk_nope;
        x->v_head = s.v_head;
        plan.push_back(std::move(*x));
      }
      continue;
    }
    plan.push_back(std::move(p));
  }

  for (auto& [name, g] : experts) {
    const std::vector<int64_t>* shape = nullptr;
    for (size_t e = 0; e < g.experts.size(); ++e) {
      const HfTensor* t = g.experts[e].tensor;
      if (t == nullptr) {
        std::string hf = HfNameOf(name);
        const std::string first = "experts.0.";
        hf.replace(hf.find(first), first.size(), "experts." + std::to_string(e) + ".");
        return NotFoundError("missing tensor '" + hf + "' (expert " + std::to_string(e) + " of " +
                             name + ")");
      }
      if (t->shape.size() != 2) {
        return InvalidArgumentError(Where(*t) + ": an expert weight must be 2-D");
      }
      if (shape != nullptr && *shape != t->shape) {
        return InvalidArgumentError(Where(*t) + " has shape " + ShapeText(t->shape) +
                                    ", unlike expert 0's " + ShapeText(*shape));
      }
      shape = &t->shape;
    }
    PlannedTensor p;
    p.name = name;
    p.ne = {(*shape)[1], (*shape)[0], s.n_expert};
    p.transform = HfTransform::kStackExperts;
    p.sources = std::move(g.experts);
    plan.push_back(std::move(p));
  }

  for (const HfTensor& t : ck.tensors) {
    if (EndsWith(t.name, kScaleSuffix) && !used_scales.count(t.name)) {
      auto mapped = MapHfTensorName(t.name.substr(0, t.name.size() - kScaleSuffix.size()));
      if (mapped && mapped->layer >= s.n_layer) continue;
      return InvalidArgumentError(Where(t) + " scales no weight of the checkpoint");
    }
  }

  // Every tensor the architecture needs must be there.
  std::set<std::string> have;
  for (const auto& p : plan) have.insert(p.name);
  std::vector<std::string> required = {"token_embd.weight", "output_norm.weight"};
  if (!s.tied) required.push_back("output.weight");
  for (int l = 0; l < s.n_layer; ++l) {
    for (auto& r : RequiredLayerTensors(s, l)) required.push_back(std::move(r));
  }
  for (const std::string& r : required) {
    if (!have.count(r)) {
      return NotFoundError("missing tensor '" + HfNameOf(r) + "' (GGUF " + r + ") in " + ck.dir);
    }
  }

  if (std::vector<float> factors = Llama3RopeFactors(ck.config, s); !factors.empty()) {
    PlannedTensor p;
    p.name = "rope_freqs.weight";
    p.ne = {static_cast<int64_t>(factors.size())};
    p.transform = HfTransform::kGenerated;
    p.values = std::move(factors);
    plan.push_back(std::move(p));
  }

  std::stable_sort(plan.begin(), plan.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    return LlamaCppTensorOrder(a.name, b.name);
  });
  return plan;
}

}  // namespace llmux::convert
