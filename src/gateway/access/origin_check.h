// DNS-rebinding and cross-site protection: the MCP endpoint checks every request (the MCP spec:
// servers MUST validate Origin), and with authentication off every route does (http_guard). A
// web page on another site can make a browser send requests to a local server; the browser
// then names that site in Origin, and a rebound DNS name in Host.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::gateway {

struct OriginPolicy {
  // Origins allowed besides loopback ones and the server's own ("http://app.example:3000");
  // "*" allows any. Their host names are also accepted as Host on a loopback server.
  std::vector<std::string> allowed_origins;
  // The server listens on loopback only: then Host must name a loopback host too.
  bool loopback_only = false;
};

// A Host header or an Origin's authority, read strictly: "host[:port]" where host is a DNS name
// or IPv4 literal (letters, digits, '-', '.') or a bracketed IPv6 literal; lower-cased.
struct Authority {
  std::string host;  // IPv6 without brackets
  std::string port;  // empty when absent
  bool ipv6 = false;
};
std::optional<Authority> ParseAuthority(std::string_view value);

// "http(s)://host[:port]" and nothing else (no path, no userinfo; "null" is not an origin).
struct Origin {
  std::string scheme;
  Authority authority;
};
std::optional<Origin> ParseOrigin(std::string_view value);

// Empty when the request may go on, else why it is refused (answered with 403).
// `origin`/`host` are the header values, empty when absent.
std::string CheckOrigin(const OriginPolicy& policy, std::string_view origin, std::string_view host);

}  // namespace llmux::gateway
