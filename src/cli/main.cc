// `llmux`: one binary, subcommands for each role and tool.
#include <cstdio>
#include <vector>

#include "base/log.h"
#include "cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{"llmux: serve local large language models"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->envname("LLMUX_LOG_LEVEL");
  app.set_config("--config", "", "read options from a TOML/INI file");

  using namespace llmux::cli;
  std::vector<Command> commands = {
      AddRunCommand(app),      AddTokenizeCommand(app), AddInspectCommand(app),
      AddBenchCommand(app),    AddModelCommand(app),    AddQuantizeCommand(app),
      AddPerplexityCommand(app), AddServeCommand(app), AddUserCommand(app), AddKeyCommand(app),
      AddMcpCommand(app),    AddGatewayCommand(app),  AddWorkerCommand(app),
  };
  CLI11_PARSE(app, argc, argv);
  llmux::InitLogging(log_level);
  for (auto& c : commands) {
    if (c.parser->parsed()) return c.run();
  }
  return 1;
}
