#include "engine/models/model_config.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

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
  LLMUX_ASSIGN_OR_RETURN(int value_dim,
                         keys.OptionalInt("attention.value_length", c.head_dim, 1, kMaxDim));
  if (value_dim != c.head_dim) {
    return UnimplementedError("attention.value_length " + std::to_string(value_dim) +
                              " differs from key_length " + std::to_string(c.head_dim));
  }
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
  return c;
}

Status ReadExpertConfig(const gguf::GgufFile& file, ModelConfig& c) {
  KeyReader keys(file, c.arch);
  LLMUX_ASSIGN_OR_RETURN(c.n_expert, keys.RequiredInt("expert_count", 1, 1 << 16));
  LLMUX_ASSIGN_OR_RETURN(c.n_expert_used, keys.RequiredInt("expert_used_count", 1, c.n_expert));
  LLMUX_ASSIGN_OR_RETURN(c.n_ff_exp, keys.RequiredInt("expert_feed_forward_length", 1, kMaxDim));
  return Status::Ok();
}

}  // namespace llmux
