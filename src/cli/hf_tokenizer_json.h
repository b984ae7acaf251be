// Reads a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) into the plain
// structs convert::ImportTokenizer takes. JSON parsing lives here, in the CLI, because the
// engine includes no JSON headers.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/convert/tokenizer_import.h"

namespace llmux::cli {

// Both files are required. Errors name the file and the field at fault.
Result<convert::HfTokenizer> ReadHfTokenizer(const std::string& tokenizer_json_path,
                                             const std::string& tokenizer_config_path);

// The same from the files' text (tests).
Result<convert::HfTokenizer> ParseHfTokenizer(std::string_view tokenizer_json,
                                              std::string_view tokenizer_config);

}  // namespace llmux::cli
