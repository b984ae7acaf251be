// `llmux inspect F.gguf`: metadata and tensor table of a GGUF file.
#include <cstdio>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "engine/gguf/gguf_describe.h"
#include "engine/gguf/gguf_reader.h"

namespace llmux::cli {

Command AddInspectCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("inspect", "print a GGUF file's metadata and tensors");
  struct Opts {
    std::string path;
    bool full = false;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("file", opts->path, "GGUF file")->required();
  sub->add_flag("--full-arrays", opts->full, "print every element of long arrays");
  return {sub, [opts] {
            auto file = gguf::GgufFile::Open(opts->path);
            if (!file.ok()) return ReportError(file.status());
            std::fputs(gguf::DescribeGguf(**file, opts->full).c_str(), stdout);
            return 0;
          }};
}

}  // namespace llmux::cli
