#include "engine/models/model_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/backend/moe_routing.h"

namespace llmux {

namespace {

// Upper bounds that no real model reaches; they keep products of dims far from overflow.
constexpr int64_t kMaxDim = 1 << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 4096;

class KeyReader {
 public:
  KeyReader(const gguf::GgufFile& file, std::string_view arch) : file_(file), arch_(arch) {}

  std::string Key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }

  Result<int> RequiredInt(std::string_view suffix, int64_t lo, int64_t hi) const {
    const std::string key = Key(suffix);
    if (file_.Find(key) == nullptr) return InvalidArgumentError("missing key '" + key + "'");
    return IntInRange(key, file_.GetInt(key), lo, hi);
  }

  Result<int> OptionalInt(std::string_view suffix, int fallback, int64_t lo, int64_t hi) const {
    const std::string key = Key(suffix);
    if (file_.Find(key) == nullptr) return fallback;
    return IntInRange(key, file_.GetInt(key), lo, hi);
  }

  Result<bool> OptionalBool(std::string_view suffix, bool fallback) const {
    const std::string key = Key(suffix);
    if (file_.Find(key) == nullptr) return fallback;
    std::optional<bool> v = file_.GetBool(key);
    if (!v) return InvalidArgumentError("key '" + key + "' is not a bool");
    return *v;
  }

  Result<float> OptionalFloat(std::string_view suffix, float fallback) const {
    const std::string key = Key(suffix);
    if (file_.Find(key) == nullptr) return fallback;
    std::optional<double> v = file_.GetFloat(key);
    if (!v || !std::isfinite(*v)) {
      return InvalidArgumentError("key '" + key + "' is not a finite number");
    }
    return static_cast<float>(*v);
  }

  const gguf::GgufFile& file() const { return file_; }

 private:
  static Result<int> IntInRange(const std::string& key, std::optional<int64_t> v, int64_t lo,
                                int64_t hi) {
    if (!v) return InvalidArgumentError("key '" + key + "' is not an integer");
    if (*v < lo || *v > hi) {
      return InvalidArgumentError("key '" + key + "' = " + std::to_string(*v) +
                                  " is out of range [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
    }
    return static_cast<int>(*v);
  }

  const gguf::GgufFile& file_;
  std::string arch_;
};

Status ReadRope(const KeyReader& keys, ModelConfig& c) {
  RopeConfig& r = c.rope;
  LLMUX_ASSIGN_OR_RETURN(r.n_rot,
                         keys.OptionalInt("rope.dimension_count", c.head_dim, 2, c.head_dim));
  if (r.n_rot % 2 != 0) {
    return InvalidArgumentError("rope.dimension_count " + std::to_string(r.n_rot) +
                                " must be even");
  }
  LLMUX_ASSIGN_OR_RETURN(r.theta, keys.OptionalFloat("rope.freq_base", 10000.0f));
  if (!(r.theta > 1.0f)) {
    return InvalidArgumentError("rope.freq_base must be > 1, got " + std::to_string(r.theta));
  }
  c.rope_theta = r.theta;

  const std::string type_key = keys.Key("rope.scaling.type");
  std::string type = "none";
  if (keys.file().Find(type_key) != nullptr) {
    std::optional<std::string> t = keys.file().GetString(type_key);
    if (!t) return InvalidArgumentError("key '" + type_key + "' is not a string");
    type = *t;
  }
  LLMUX_ASSIGN_OR_RETURN(r.factor, keys.OptionalFloat("rope.scaling.factor", 0.0f));
  // Older files give linear scaling as rope.scale_linear only.
  LLMUX_ASSIGN_OR_RETURN(float scale_linear, keys.OptionalFloat("rope.scale_linear", 0.0f));
  if (r.factor == 0.0f && scale_linear != 0.0f) {
    r.factor = scale_linear;
    if (type == "none") type = "linear";
  }
  if (type != "none" && type != "linear" && type != "yarn") {
    return UnimplementedError("unsupported rope scaling type '" + type + "'");
  }
  if (type == "none" || r.factor == 0.0f || r.factor == 1.0f) {
    r.scaling = RopeScaling::kNone;
    r.factor = 1.0f;
  } else if (type == "linear") {
    r.scaling = RopeScaling::kLinear;
  } else {
    r.scaling = RopeScaling::kYarn;
  }
  if (!(r.factor > 0.0f)) {
    return InvalidArgumentError("rope.scaling.factor must be > 0");
  }
  LLMUX_ASSIGN_OR_RETURN(r.n_ctx_orig, keys.OptionalInt("rope.scaling.original_context_length",
                                                        c.n_ctx_train, 1, INT32_MAX));
  LLMUX_ASSIGN_OR_RETURN(r.yarn_beta_fast,
                         keys.OptionalFloat("rope.scaling.yarn_beta_fast", 32.0f));
  LLMUX_ASSIGN_OR_RETURN(r.yarn_beta_slow, keys.OptionalFloat("rope.scaling.yarn_beta_slow", 1.0f));
  LLMUX_ASSIGN_OR_RETURN(r.yarn_attn_factor,
                         keys.OptionalFloat("rope.scaling.yarn_attn_factor", 1.0f));
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ReadModelConfig(const gguf::GgufFile& file, std::string_view arch) {
  KeyReader keys(file, arch);
  ModelConfig c;
  c.arch = std::string(arch);
  c.name = file.GetString("general.name").value_or("");
  LLMUX_ASSIGN_OR_RETURN(c.n_embd, keys.RequiredInt("embedding_length", 1, kMaxDim));
  LLMUX_ASSIGN_OR_RETURN(c.n_layer, keys.RequiredInt("block_count", 1, kMaxLayers));
  LLMUX_ASSIGN_OR_RETURN(c.n_ff, keys.RequiredInt("feed_forward_length", 1, kMaxDim));
  LLMUX_ASSIGN_OR_RETURN(c.n_head, keys.RequiredInt("attention.head_count", 1, kMaxHeads));
  LLMUX_ASSIGN_OR_RETURN(c.n_head_kv,
                         keys.OptionalInt("attention.head_count_kv", c.n_head, 1, c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return InvalidArgumentError("head_count " + std::to_string(c.n_head) +
                                " is not a multiple of head_count_kv " +
                                std::to_string(c.n_head_kv));
  }
  const int default_head_dim = c.n_embd % c.n_head == 0 ? c.n_embd / c.n_head : 0;
  LLMUX_ASSIGN_OR_RETURN(c.head_dim,
                         keys.OptionalInt("attention.key_length", default_head_dim, 0, kMaxDim));
  if (c.head_dim <= 0) {
    return InvalidArgumentError("embedding_length " + std::to_string(c.n_embd) +
                                " is not a multiple of head_count and key_length is not given");
  }
  // Only MLA may differ (ReadMlaConfig); the model checks value_dim == head_dim otherwise.
  LLMUX_ASSIGN_OR_RETURN(c.value_dim,
                         keys.OptionalInt("attention.value_length", c.head_dim, 1, kMaxDim));
  if (static_cast<int64_t>(c.n_head) * c.head_dim > kMaxDim) {
    return InvalidArgumentError("head_count * head_dim is too large");
  }
  LLMUX_ASSIGN_OR_RETURN(c.n_ctx_train, keys.OptionalInt("context_length", 2048, 1, INT32_MAX));

  const std::string eps_key = keys.Key("attention.layer_norm_rms_epsilon");
  if (file.Find(eps_key) == nullptr) {
    return InvalidArgumentError("missing key '" + eps_key + "'");
  }
  LLMUX_ASSIGN_OR_RETURN(c.rms_eps, keys.OptionalFloat("attention.layer_norm_rms_epsilon", 0.0f));
  if (!(c.rms_eps > 0.0f) || c.rms_eps > 1.0f) {
    return InvalidArgumentError("layer_norm_rms_epsilon must be in (0, 1]");
  }
  LLMUX_RETURN_IF_ERROR(ReadRope(keys, c));
  // llama.cpp's numbering: 0 none, 1 mean, 2 cls, 3 last, 4 rank; absent: unspecified.
  LLMUX_ASSIGN_OR_RETURN(int pooling, keys.OptionalInt("pooling_type", -1, 0, 4));
  c.pooling = static_cast<PoolingType>(pooling + 1);
  return c;
}

Status ReadExpertConfig(const gguf::GgufFile& file, ModelConfig& c) {
  KeyReader keys(file, c.arch);
  LLMUX_ASSIGN_OR_RETURN(c.n_expert, keys.RequiredInt("expert_count", 1, 1 << 16));
  LLMUX_ASSIGN_OR_RETURN(c.n_expert_used, keys.RequiredInt("expert_used_count", 1, c.n_expert));
  LLMUX_ASSIGN_OR_RETURN(c.n_ff_exp, keys.RequiredInt("expert_feed_forward_length", 1, kMaxDim));
  return Status::Ok();
}

Status ReadExpertRouting(const gguf::GgufFile& file, ModelConfig& c) {
  KeyReader keys(file, c.arch);
  LLMUX_ASSIGN_OR_RETURN(c.n_layer_dense_lead,
                         keys.OptionalInt("leading_dense_block_count", 0, 0, c.n_layer));
  LLMUX_ASSIGN_OR_RETURN(c.n_expert_shared, keys.OptionalInt("expert_shared_count", 0, 0, 1 << 10));
  // llama.cpp's llama_expert_gating_func_type: 1 softmax, 2 sigmoid; absent means softmax.
  LLMUX_ASSIGN_OR_RETURN(int gating, keys.OptionalInt("expert_gating_func", 1, 1, 2));
  MoeRouting& r = c.routing;
  r.gating = gating == 2 ? MoeRouting::Gating::kSigmoid : MoeRouting::Gating::kSoftmax;
  LLMUX_ASSIGN_OR_RETURN(r.normalize, keys.OptionalBool("expert_weights_norm", false));
  LLMUX_ASSIGN_OR_RETURN(r.scale, keys.OptionalFloat("expert_weights_scale", 0.0f));
  if (r.scale == 0.0f) r.scale = 1.0f;  // llama.cpp scales only by a non-zero factor
  if (!(r.scale > 0.0f)) return InvalidArgumentError("expert_weights_scale must be > 0");
  LLMUX_ASSIGN_OR_RETURN(r.n_group, keys.OptionalInt("expert_group_count", 0, 0,
                                                     std::min(c.n_expert, kMaxExpertGroups)));
  LLMUX_ASSIGN_OR_RETURN(r.n_group_used,
                         keys.OptionalInt("expert_group_used_count", 0, 0, std::max(r.n_group, 0)));
  if (r.n_group > 1) {
    if (c.n_expert % r.n_group != 0 || c.n_expert / r.n_group < 2) {
      return InvalidArgumentError("expert_count " + std::to_string(c.n_expert) +
                                  " does not split into " + std::to_string(r.n_group) +
                                  " groups of at least 2");
    }
    if (r.n_group_used < 1 || r.n_group_used * (c.n_expert / r.n_group) < c.n_expert_used) {
      return InvalidArgumentError("expert_group_used_count " + std::to_string(r.n_group_used) +
                                  " leaves fewer experts than expert_used_count");
    }
  }
  return Status::Ok();
}

Status ReadMlaConfig(const gguf::GgufFile& file, ModelConfig& c) {
  KeyReader keys(file, c.arch);
  ModelConfig::Mla& m = c.mla;
  LLMUX_ASSIGN_OR_RETURN(m.q_lora, keys.OptionalInt("attention.q_lora_rank", 0, 0, kMaxDim));
  LLMUX_ASSIGN_OR_RETURN(m.kv_lora, keys.RequiredInt("attention.kv_lora_rank", 1, kMaxDim));
  LLMUX_ASSIGN_OR_RETURN(int k_head, keys.RequiredInt("attention.key_length_mla", 1, kMaxDim));
  LLMUX_ASSIGN_OR_RETURN(m.v_head, keys.RequiredInt("attention.value_length_mla", 1, kMaxDim));
  const int n_rot = c.rope.n_rot;
  m.qk_nope = k_head - n_rot;
  if (m.qk_nope <= 0) {
    return InvalidArgumentError("key_length_mla " + std::to_string(k_head) +
                                " leaves no room beside rope.dimension_count " + std::to_string(n_rot));
  }
  // The cache row: the latent and the roped key, one "kv head" (see ModelConfig::Mla).
  if (c.n_head_kv != 1 || c.head_dim != m.kv_lora + n_rot || c.value_dim != m.kv_lora) {
    return UnimplementedError(
        "MLA files must store the cache as one kv head of key_length = kv_lora_rank + "
        "rope.dimension_count and value_length = kv_lora_rank (as llama.cpp's converter writes "
        "them); got head_count_kv " + std::to_string(c.n_head_kv) + ", key_length " +
        std::to_string(c.head_dim) + ", value_length " + std::to_string(c.value_dim));
  }
  if (static_cast<int64_t>(c.n_head) * (k_head + m.kv_lora + m.v_head) > kMaxDim) {
    return InvalidArgumentError("MLA head dims are too large");
  }
  // Score scale: YaRN's magnitude correction, squared, over sqrt(key_length_mla) (the
  // dims of q.k before absorption). The file's yarn_log_multiplier is 0.1 * mscale_all_dim.
  LLMUX_ASSIGN_OR_RETURN(float log_mul, keys.OptionalFloat("rope.scaling.yarn_log_multiplier", 0.0f));
  float mscale = 1.0f;
  if (c.rope.scaling == RopeScaling::kYarn) {
    mscale = 1.0f + log_mul * std::log(c.rope.factor);
    // The rotation itself keeps unit magnitude (llama.cpp cancels ggml's YaRN mscale).
    c.rope.yarn_attn_factor = 1.0f / (1.0f + 0.1f * std::log(c.rope.factor));
  }
  c.attn_scale = mscale * mscale / std::sqrt(static_cast<float>(k_head));
  return Status::Ok();
}

}  // namespace llmux
