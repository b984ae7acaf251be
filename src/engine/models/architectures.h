// The registry of architectures: `general.architecture` -> loader.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/models/model.h"

namespace llmux {

using ModelLoader = Result<std::unique_ptr<Model>> (*)(std::shared_ptr<const gguf::GgufFile>,
                                                       int n_threads);

// The loader for an architecture name, or null if it is not supported.
ModelLoader FindModelLoader(std::string_view arch);
std::vector<std::string> SupportedArchitectures();

// One per architecture file.
Result<std::unique_ptr<Model>> LoadLlama(std::shared_ptr<const gguf::GgufFile> file, int n_threads);
Result<std::unique_ptr<Model>> LoadQwen2(std::shared_ptr<const gguf::GgufFile> file, int n_threads);
Result<std::unique_ptr<Model>> LoadQwen3(std::shared_ptr<const gguf::GgufFile> file, int n_threads);
Result<std::unique_ptr<Model>> LoadQwen3Moe(std::shared_ptr<const gguf::GgufFile> file, int n_threads);
Result<std::unique_ptr<Model>> LoadDeepSeek2(std::shared_ptr<const gguf::GgufFile> file, int n_threads);

}  // namespace llmux
