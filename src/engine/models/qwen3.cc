// Architectures `qwen3` (dense Qwen3) and `qwen3moe` (Qwen3-30B-A3B, 235B-A22B), which share
// the layer but for its FFN: no biases; each q and k head is RMS-normalised over head_dim
// (attn_q_norm / attn_k_norm) before NEOX RoPE; head_dim comes from attention.key_length and
// need not equal n_embd / n_head. qwen3moe's FFN is a mixture of experts: a softmax router
// over expert_count experts picks expert_used_count per token and weights them by their
// renormalised probabilities (FeedForwardMoe, RouteExperts' defaults).
#include "engine/models/architectures.h"
#include "engine/models/dense_model.h"
#include "engine/models/model_config.h"

namespace llmux {

namespace {

class Qwen3Model final : public DenseModel {
 public:
  Qwen3Model(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads)
      : DenseModel(std::move(file), std::move(config), n_threads) {}
  using DenseModel::Init;

 protected:
  void ForwardLayer(int il, KvCache& cache, const Batch& b) override {
    const LayerWeights& w = weights_.layers[il];
    NormInput(w.attn_norm, b);
    ProjectQkv(w, cache, il, b);
    NormHeads(w, cache, il, b);
    ApplyRope(cache, il, b);
    AttendAndProject(w, cache, il, b);
    if (config_.moe_layer(il)) {
      FeedForwardMoe(w, b);
    } else {
      FeedForward(w, b);
    }
  }
};

}  // namespace

namespace {

Result<std::unique_ptr<Model>> Load(std::shared_ptr<const gguf::GgufFile> file, int n_threads,
                                    std::string_view arch) {
  LLMUX_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file, arch));
  if (arch == "qwen3moe") LLMUX_RETURN_IF_ERROR(ReadExpertConfig(*file, config));
  config.rope.layout = RopeLayout::kNeox;
  config.qk_norm = true;
  auto model = std::make_unique<Qwen3Model>(std::move(file), std::move(config), n_threads);
  LLMUX_RETURN_IF_ERROR(model->Init());
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace

Result<std::unique_ptr<Model>> LoadQwen3(std::shared_ptr<const gguf::GgufFile> file, int n_threads) {
  return Load(std::move(file), n_threads, "qwen3");
}

Result<std::unique_ptr<Model>> LoadQwen3Moe(std::shared_ptr<const gguf::GgufFile> file, int n_threads) {
  return Load(std::move(file), n_threads, "qwen3moe");
}

}  // namespace llmux
