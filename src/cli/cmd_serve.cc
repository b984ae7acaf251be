// `llmux serve`: the embedded default, every role in one process (src/app/all_in_one.h). This
// file only parses flags.
#include <memory>

#include "app/all_in_one.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_args.h"
#include "cli/role_flags.h"

namespace llmux::cli {

Command AddServeCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "serve models over the OpenAI-compatible HTTP API and gRPC");
  auto o = std::make_shared<app::AllInOneOptions>();
  sub->add_option_function<std::vector<std::string>>(
         "-m,--model",
         [o](const std::vector<std::string>& args) {
           for (const std::string& m : args) o->models.push_back(ParseModelArg(m));
         },
         "GGUF model to serve, as FILE or NAME=FILE (repeatable)")
      ->required();
  AddEdgeFlags(sub, &o->edge);
  AddModelHostFlags(sub, &o->model_host);
  return {sub, [o] {
            Status s = app::RunAllInOne(*o);
            return s.ok() ? 0 : ReportError(s);
          }};
}

}  // namespace llmux::cli
