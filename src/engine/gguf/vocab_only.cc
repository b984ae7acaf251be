#include "engine/gguf/vocab_only.h"

#include "engine/gguf/gguf_writer.h"

namespace llmux::gguf {

Result<std::string> VocabOnlyBytes(const GgufFile& file) {
  GgufWriter w;
  for (const MetadataEntry& e : file.metadata()) {
    if (e.key == "general.architecture" || e.key == "general.name" || e.key.starts_with("tokenizer.")) {
      w.CopyValue(e.key, e.value);
    }
  }
  return w.MetadataOnlyBytes();
}

}  // namespace llmux::gguf
