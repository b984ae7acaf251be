// `llmux model pull URL|PATH`: a sub-subcommand of `llmux model` (see cmd_model.cc).
#pragma once

#include "cli/command.h"

namespace llmux::cli {

Command AddModelPullCommand(CLI::App& model);

}  // namespace llmux::cli
