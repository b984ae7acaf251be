// Architecture `llama` (Llama 1/2/3, TinyLlama, llama2.c exports such as stories260K):
// pre-norm blocks, RoPE on adjacent pairs ("normal" layout), GQA, SwiGLU FFN. q/k/v and
// output biases are used when the file has them; rope_freqs.weight scales frequencies.
#include "engine/models/architectures.h"
#include "engine/models/dense_model.h"
#include "engine/models/model_config.h"

namespace llmux {

namespace {

class LlamaModel final : public DenseModel {
 public:
  LlamaModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config, int n_threads)
      : DenseModel(std::move(file), std::move(config), n_threads) {}
  using DenseModel::Init;

 protected:
  void ForwardLayer(int il, KvCache& cache, const Batch& b) override {
    const LayerWeights& w = weights_.layers[il];
    NormInput(w.attn_norm, b);
    ProjectQkv(w, cache, il, b);
    ApplyRope(cache, il, b);
    AttendAndProject(w, cache, il, b);
    FeedForward(w, b);
  }
};

}  // namespace

Result<std::unique_ptr<Model>> LoadLlama(std::shared_ptr<const gguf::GgufFile> file,
                                         int n_threads) {
  LLMUX_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file, "llama"));
  config.rope.layout = RopeLayout::kNormal;
  // Biases are optional for llama; when layer 0 has them, every layer must.
  config.qkv_bias = file->FindTensor("blk.0.attn_q.bias") != nullptr;
  auto model = std::make_unique<LlamaModel>(std::move(file), std::move(config), n_threads);
  LLMUX_RETURN_IF_ERROR(model->Init());
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace llmux
