// `llmux model import`: a sub-subcommand of `llmux model` (see cmd_model.cc).
#pragma once

#include "cli/command.h"

namespace llmux::cli {

// Registers `import` under the `model` subcommand.
Command AddImportCheckpointCommand(CLI::App& model);

}  // namespace llmux::cli
