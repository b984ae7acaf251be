#include "cli/store_flags.h"

#include <unistd.h>

#include "store/open_store.h"

namespace llmux::cli {

void AddStoreOptions(CLI::App* cmd, StoreOptions& o) {
  cmd->add_option("--data-dir", o.data_dir, "the data directory of `llmux serve`")
      ->capture_default_str()
      ->envname("LLMUX_DATA_DIR");
  cmd->add_option("--store", o.store_url, "auth store URL (default: <data-dir>/llmux.db)")
      ->envname("LLMUX_STORE");
}

Result<std::unique_ptr<store::Store>> OpenCliStore(const StoreOptions& o) {
  const std::string url = o.store_url.empty() ? o.data_dir + "/llmux.db" : o.store_url;
  auto store = store::OpenStore(url);
  if (!store.ok()) {
    return store.status().WithContext("opening the store " + store::RedactStoreUrl(url));
  }
  return store;
}

std::string CliSubject() {
  const char* login = getlogin();
  return std::string("cli:") + (login ? login : "unknown");
}

}  // namespace llmux::cli
