// `llmux model deploy`: a sub-subcommand of `llmux model` (see cmd_model.cc).
#pragma once

#include "cli/command.h"

namespace llmux::cli {

// Registers `deploy` under the `model` subcommand.
Command AddDeployCommand(CLI::App& model);

}  // namespace llmux::cli
