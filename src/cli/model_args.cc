#include "cli/model_args.h"

namespace llmux::cli {

serving::ModelSpec ParseModelArg(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq != std::string::npos && arg.substr(0, eq).find('/') == std::string::npos) {
    return serving::ModelSpec{arg.substr(0, eq), arg.substr(eq + 1)};
  }
  return serving::ModelSpec{"", arg};
}

}  // namespace llmux::cli
