// The web console (web/console, built by Vite into dist/) as static files at /console/:
//
//   GET /console            -> 308 to /console/
//   GET /console/<file>     -> the file (see StaticFiles for what paths are accepted)
//   GET /console/<route>    -> index.html for a path that is not a file and whose last segment
//                              has no '.', so that the page's own routes (/console/logs) load it
//
// The files are public (the page holds no secrets); every API call the page makes carries the
// user's credentials. A missing build answers 404 saying how to build it.
#pragma once

#include <cstddef>
#include <string>

namespace llmux::gateway {

class GuardedRouter;

struct ConsoleOptions {
  std::string dir;  // the built console (its index.html); empty: the console is not served
  size_t max_file_bytes = 8 * 1024 * 1024;
};

void RegisterConsoleRoutes(GuardedRouter& router, const ConsoleOptions& options);

}  // namespace llmux::gateway
