#include "gateway/console/console_routes.h"

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "gateway/access/http_guard.h"
#include "gateway/console/static_files.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;

constexpr std::string_view kPrefix = "/console/";

// A page route of the console (no file extension in its last segment), answered with index.html.
bool PageRoute(std::string_view relative) {
  const size_t slash = relative.rfind('/');
  const std::string_view last =
      slash == std::string_view::npos ? relative : relative.substr(slash + 1);
  return last.find('.') == std::string_view::npos;
}

http::Headers FileHeaders(const StaticFile& file) {
  http::Headers h;
  h.Add("X-Content-Type-Options", "nosniff");
  h.Add("Referrer-Policy", "no-referrer");
  // Vite names the files under assets/ by their hash: they never change.
  h.Add("Cache-Control",
        file.path.rfind("assets/", 0) == 0 ? "public, max-age=31536000, immutable" : "no-cache");
  if (file.content_type.rfind("text/html", 0) == 0) {
    h.Add("Content-Security-Policy",
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    h.Add("X-Frame-Options", "DENY");
  }
  return h;
}

}  // namespace

void RegisterConsoleRoutes(GuardedRouter& router, const ConsoleOptions& options) {
  router.Route("GET", "/console",
               [](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 http::Headers headers;
                 headers.Add("Location", std::string(kPrefix));
                 co_await w.Send(308, "text/plain; charset=utf-8", "the console is at /console/\n",
                                 std::move(headers));
               });
  auto files = std::make_shared<StaticFiles>(options.dir, options.max_file_bytes);
  const bool configured = !options.dir.empty();
  router.RoutePrefix(
      "GET", std::string(kPrefix),
      [files, configured](http::Request& req, http::ResponseWriter& w,
                          CallAccess&) -> awaitable<void> {
        const std::string_view relative = std::string_view(req.path).substr(kPrefix.size());
        Result<StaticFile> file = files->Read(relative);
        // Only a plain path that names no file is a page of the console; any other is just 404.
        if (!file.ok() && file.status().code() == StatusCode::kNotFound &&
            (relative.empty() || StaticFiles::SafeRelativePath(relative)) && PageRoute(relative)) {
          file = files->Read("index.html");
          if (!file.ok()) {
            const std::string why =
                configured ? "the console is not built in " + files->root().string() +
                                 " (run `npm ci && npm run build` in web/console, or `make run`)\n"
                           : "the console is not served (no --console-dir)\n";
            co_await w.Send(404, "text/plain; charset=utf-8", why);
            co_return;
          }
        }
        if (!file.ok()) {
          const int status = file.status().code() == StatusCode::kNotFound ? 404 : 500;
          co_await w.Send(status, "text/plain; charset=utf-8", file.status().message() + "\n");
          co_return;
        }
        http::Headers headers = FileHeaders(*file);
        co_await w.Send(200, file->content_type, std::move(file->content), std::move(headers));
      });
}

}  // namespace llmux::gateway
