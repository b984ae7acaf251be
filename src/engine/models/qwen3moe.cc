// Architecture `qwen3moe` (Qwen3-30B-A3B, Qwen3-235B-A22B): qwen3's attention (per-head q/k
// RMSNorm, NEOX RoPE, no biases) and a mixture-of-experts FFN in every layer: a softmax router
// over expert_count experts picks expert_used_count per token and weights them by their
// renormalised probabilities (FeedForwardMoe).
#include "engine/models/architectures.h"
#include "engine/models/dense_model.h"
#include "engine/models/model_config.h"

namespace llmux {

namespace {

class Qwen3MoeModel final : public DenseModel {
 public:
  Qwen3MoeModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads)
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
    FeedForwardMoe(w, b);
  }
};

}  // namespace

Result<std::unique_ptr<Model>> LoadQwen3Moe(std::shared_ptr<const gguf::GgufFile> file, int n_threads) {
  LLMUX_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file, "qwen3moe"));
  LLMUX_RETURN_IF_ERROR(ReadExpertConfig(*file, config));
  config.rope.layout = RopeLayout::kNeox;
  config.qk_norm = true;
  auto model = std::make_unique<Qwen3MoeModel>(std::move(file), std::move(config), n_threads);
  LLMUX_RETURN_IF_ERROR(model->Init());
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace llmux
