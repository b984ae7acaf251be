// Reads a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) into the plain
// structs convert::ImportTokenizer takes. JSON parsing lives here, in the CLI, because the
// engine includes no JSON headers.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/convert/tokenizer_import.h"

namespace llmux::cli {

// Both files are required. Errors name the file and the field at fault. A SentencePiece-style
// tokenizer (model.byte_fallback) is refused unless allow_byte_fallback: `import-tokenizer`
// writes byte-level BPE only, the checkpoint importer also SentencePiece
// (HfTokenizer::byte_fallback).
Result<convert::HfTokenizer> ReadHfTokenizer(const std::string& tokenizer_json_path,
                                             const std::string& tokenizer_config_path,
                                             bool allow_byte_fallback = false);

// The same from the files' text (tests).
Result<convert::HfTokenizer> ParseHfTokenizer(std::string_view tokenizer_json,
                                              std::string_view tokenizer_config,
                                              bool allow_byte_fallback = false);

// The text of a file (NotFound naming it when missing). Shared by the Hugging Face readers.
Result<std::string> ReadTextFile(const std::string& path);

}  // namespace llmux::cli
