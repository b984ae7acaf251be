// DNS-rebinding protection for the MCP endpoint (spec: servers MUST validate Origin). A web
// page on another site can make a browser send requests to a local server; the browser then
// names that site in Origin, and a rebound DNS name in Host.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmux::gateway {

struct OriginPolicy {
  // Origins allowed besides loopback ones and the server's own ("http://app.example:3000");
  // "*" allows any.
  std::vector<std::string> allowed_origins;
  // The server listens on loopback only: then Host must name a loopback host too.
  bool loopback_only = false;
};

// The host of "scheme://host[:port]" or of a Host header "host[:port]", lower-cased, IPv6
// without brackets; empty when it cannot be read.
std::string HostOf(std::string_view origin_or_host);
bool IsLoopbackHost(std::string_view host);

// Empty when the request may go on, else why it is refused (answered with 403).
// `origin`/`host` are the header values, empty when absent.
std::string CheckOrigin(const OriginPolicy& policy, std::string_view origin, std::string_view host);

}  // namespace llmux::gateway
