// `llmux model import-tokenizer`: a sub-subcommand of `llmux model` (see cmd_model.cc).
#pragma once

#include "cli/command.h"

namespace llmux::cli {

// Registers `import-tokenizer` under the `model` subcommand.
Command AddImportTokenizerCommand(CLI::App& model);

}  // namespace llmux::cli
