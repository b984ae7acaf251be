// A subcommand of the `llmux` binary: its CLI11 parser plus the function that runs it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

namespace llmux::cli {

struct Command {
  CLI::App* parser = nullptr;
  std::function<int()> run;  // returns the process exit code
};

// Each Add* registers one subcommand on `app` and returns it; defined in cmd_<name>.cc.
Command AddRunCommand(CLI::App& app);
Command AddWorkerCommand(CLI::App& app);
Command AddGatewayCommand(CLI::App& app);
Command AddTokenizeCommand(CLI::App& app);
Command AddInspectCommand(CLI::App& app);
Command AddBenchCommand(CLI::App& app);
Command AddModelCommand(CLI::App& app);  // `llmux model create`
Command AddQuantizeCommand(CLI::App& app);
Command AddPerplexityCommand(CLI::App& app);
Command AddServeCommand(CLI::App& app);  // `llmux serve`
Command AddUserCommand(CLI::App& app);   // `llmux user add|list|passwd|rm`
Command AddKeyCommand(CLI::App& app);    // `llmux key create|list|revoke`
Command AddMcpCommand(CLI::App& app);    // `llmux mcp --stdio`

}  // namespace llmux::cli
