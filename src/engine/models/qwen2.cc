// Architecture `qwen2` (Qwen2, Qwen2.5): like llama, but q/k/v projections carry biases
// and RoPE rotates halves (NEOX layout).
#include "engine/models/architectures.h"
#include "engine/models/dense_model.h"
#include "engine/models/model_config.h"

namespace llmux {

namespace {

class Qwen2Model final : public DenseModel {
 public:
  Qwen2Model(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads)
      : DenseModel(std::move(file), std::move(config), n_threads) {}
  using DenseModel::Init;

 protected:
  void ForwardLayer(int il, KvCache& cache, const Batch& b) override {
    const LayerWeights& w = weights_.layers[il];
    NormInput(w.attn_norm, b);
    ProjectQkv(w, cache, il, b);  // adds bq, bk, bv
    ApplyRope(cache, il, b);
    AttendAndProject(w, cache, il, b);
    FeedForward(w, b);
  }
};

}  // namespace

Result<std::unique_ptr<Model>> LoadQwen2(std::shared_ptr<const gguf::GgufFile> file,
                                         int n_threads) {
  LLMUX_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file, "qwen2"));
  config.rope.layout = RopeLayout::kNeox;
  config.qkv_bias = true;
  auto model = std::make_unique<Qwen2Model>(std::move(file), std::move(config), n_threads);
  LLMUX_RETURN_IF_ERROR(model->Init());
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace llmux
