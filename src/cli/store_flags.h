// The flags that point a store-editing command (`llmux user`, `key`, `model register|tag|...`)
// at the store `llmux serve` uses, and opening it.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace llmux::cli {

struct StoreOptions {
  std::string data_dir = "./llmux-data";
  std::string store_url;  // empty: <data_dir>/llmux.db
};

void AddStoreOptions(CLI::App* cmd, StoreOptions& o);

Result<std::unique_ptr<store::Store>> OpenCliStore(const StoreOptions& o);

// "cli:<login name>": who the audit log says made a change from the command line.
std::string CliSubject();

}  // namespace llmux::cli
