#include "engine/models/model.h"

#include <string>

#include "engine/models/architectures.h"

namespace llmux {

Result<std::unique_ptr<Model>> Model::Load(std::shared_ptr<const gguf::GgufFile> file,
                                           int n_threads) {
  if (file == nullptr) return InvalidArgumentError("no model file");
  if (n_threads < 1 || n_threads > 1024) {
    return InvalidArgumentError("thread count must be in [1, 1024], got " +
                                std::to_string(n_threads));
  }
  std::optional<std::string> arch = file->GetString("general.architecture");
  if (!arch) return InvalidArgumentError("missing key 'general.architecture'");
  ModelLoader load = FindModelLoader(*arch);
  if (load == nullptr) {
    std::string known;
    for (const std::string& a : SupportedArchitectures()) known += (known.empty() ? "" : ", ") + a;
    return UnimplementedError("unsupported architecture '" + *arch + "' (supported: " + known +
                              ")");
  }
  auto model = load(std::move(file), n_threads);
  if (!model.ok()) return model.status().WithContext("loading " + *arch + " model");
  return model;
}

}  // namespace llmux
