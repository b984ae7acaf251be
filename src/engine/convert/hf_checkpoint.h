// A Hugging Face checkpoint as plain data: what config.json says, where each tensor of the
// *.safetensors files lies, and the tokenizer. The CLI reads the JSON files (the engine reads
// no JSON) and fills these structs; convert::ImportHfCheckpoint turns them into a GGUF.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/convert/tokenizer_import.h"

namespace llmux::convert {

// One scalar of config.json. Nested objects and arrays of scalars are flattened into dotted
// keys: rope_scaling.factor, quantization_config.weight_block_size.0, architectures.0.
struct HfScalar {
  enum class Kind { kInt, kFloat, kBool, kString };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
};

struct HfConfig {
  std::map<std::string, HfScalar> values;

  const HfScalar* Find(const std::string& key) const;
  // Integers (and floats with an integral value) as int64.
  std::optional<int64_t> Int(const std::string& key) const;
  // Floats and integers as double.
  std::optional<double> Float(const std::string& key) const;
  std::optional<bool> Bool(const std::string& key) const;
  std::optional<std::string> String(const std::string& key) const;
  // The first of `keys` that is set, as above.
  std::optional<int64_t> FirstInt(std::initializer_list<const char*> keys) const;
};

// One tensor of a .safetensors file, already checked against the file by the reader: the
// bytes [offset, offset + nbytes) lie in the file's data section and nbytes is the element
// count times the element size.
struct HfTensor {
  std::string name;
  std::string dtype;           // as in the file: "F32", "F16", "BF16", "F8_E4M3", "I64", ...
  std::vector<int64_t> shape;  // outermost first (PyTorch order); ggml's ne is the reverse
  std::string file;            // path of the .safetensors file
  uint64_t offset = 0;         // absolute byte offset in `file`
  uint64_t nbytes = 0;
};

struct HfCheckpoint {
  std::string dir;  // where it was read from (messages only)
  HfConfig config;
  std::vector<HfTensor> tensors;
  std::optional<HfTokenizer> tokenizer;  // absent: no tokenizer.json
};

}  // namespace llmux::convert
