// Parsing of the --model arguments that the commands serving models share.
#pragma once

#include <string>

#include "serving/model_host.h"

namespace llmux::cli {

// "NAME=FILE" or "FILE" (the served name then comes from the file). A '=' inside a path
// (before it a '/') belongs to the path.
serving::ModelSpec ParseModelArg(const std::string& arg);

}  // namespace llmux::cli
