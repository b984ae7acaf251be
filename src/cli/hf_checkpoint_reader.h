// Reads a Hugging Face checkpoint directory into convert::HfCheckpoint (the engine reads no
// JSON): config.json (flattened into HfConfig), the tensor tables of its .safetensors files
// (model.safetensors.index.json's shards, or model.safetensors, or every *.safetensors), and
// tokenizer.json + tokenizer_config.json when present. Only headers are read; tensor data stays
// on disk until the importer maps it.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/convert/hf_checkpoint.h"

namespace llmux::cli {

// config.json's text -> HfConfig: scalars by key; nested objects and arrays of scalars
// flattened into dotted keys (rope_scaling.factor, architectures.0); nulls left out.
Result<convert::HfConfig> ParseHfConfig(std::string_view config_json);

Result<convert::HfCheckpoint> ReadHfCheckpoint(const std::string& dir);

}  // namespace llmux::cli
