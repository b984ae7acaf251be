// A vocabulary-only GGUF: a model file's tokenizer and chat template without its weights, so
// that another process (a gateway) can tokenize prompts exactly as the model's host does.
#pragma once

#include <string>

#include "base/status.h"
#include "engine/gguf/gguf_reader.h"

namespace llmux::gguf {

// The bytes of a GGUF file (no tensors) holding `file`'s general.architecture, general.name
// and every tokenizer.* key (vocabulary, merges, scores, special ids, chat template).
Result<std::string> VocabOnlyBytes(const GgufFile& file);

}  // namespace llmux::gguf
