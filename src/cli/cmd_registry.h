// `llmux model list|show|register|tag|rm|params|history|rollback`: the model registry, edited in
// the store directly (like `llmux user`); sub-subcommands of `llmux model` (see cmd_model.cc).
#pragma once

#include <vector>

#include "cli/command.h"

namespace llmux::cli {

// Registers the registry commands under the `model` subcommand.
std::vector<Command> AddRegistryCommands(CLI::App& model);

}  // namespace llmux::cli
