// Architecture `deepseek2` (DeepSeek-V2, V2-Lite, V3, R1): multi-head latent attention
// (AttendLatent, with the compressed latent in the cache), leading dense layers, then a
// mixture of experts with shared experts (FeedForwardMoe). V3's routing: sigmoid scores plus
// the exp_probs_b bias for the choice, limited to the best expert groups, normalised weights
// times expert_weights_scale (ReadExpertRouting). RoPE rotates adjacent pairs of the n_rot
// dims, usually YaRN-scaled, whose mscale goes into the score scale (ReadMlaConfig).
#include "engine/models/architectures.h"
#include "engine/models/dense_model.h"
#include "engine/models/model_config.h"

namespace llmux {

namespace {

class DeepSeek2Model final : public DenseModel {
 public:
  DeepSeek2Model(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads)
      : DenseModel(std::move(file), std::move(config), n_threads) {}
  using DenseModel::Init;

 protected:
  void ForwardLayer(int il, KvCache& cache, const Batch& b) override {
    const LayerWeights& w = weights_.layers[il];
    NormInput(w.attn_norm, b);
    AttendLatent(w, cache, il, b);
    if (config_.moe_layer(il)) {
      FeedForwardMoe(w, b);
    } else {
      FeedForward(w, b);
    }
  }
};

}  // namespace

Result<std::unique_ptr<Model>> LoadDeepSeek2(std::shared_ptr<const gguf::GgufFile> file,
                                             int n_threads) {
  LLMUX_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file, "deepseek2"));
  LLMUX_RETURN_IF_ERROR(ReadExpertConfig(*file, config));
  LLMUX_RETURN_IF_ERROR(ReadExpertRouting(*file, config));
  config.rope.layout = RopeLayout::kNormal;
  LLMUX_RETURN_IF_ERROR(ReadMlaConfig(*file, config));
  auto model = std::make_unique<DeepSeek2Model>(std::move(file), std::move(config), n_threads);
  LLMUX_RETURN_IF_ERROR(model->Init());
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace llmux
