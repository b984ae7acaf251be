// Opens a GGUF file and builds the model and tokenizer the commands need.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/models/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux::cli {

struct LoadedModel {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

inline Result<LoadedModel> LoadModelFile(const std::string& path, int n_threads) {
  LoadedModel m;
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::Open(path));
  m.file = std::move(file);
  LLMUX_ASSIGN_OR_RETURN(m.tokenizer, Tokenizer::FromGguf(*m.file));
  LLMUX_ASSIGN_OR_RETURN(m.model, Model::Load(m.file, n_threads));
  return m;
}

}  // namespace llmux::cli
