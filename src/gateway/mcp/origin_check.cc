#include "gateway/mcp/origin_check.h"

#include <algorithm>
#include <cctype>

namespace llmux::gateway {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string HostOf(std::string_view value) {
  if (auto scheme = value.find("://"); scheme != std::string_view::npos) {
    value.remove_prefix(scheme + 3);
  }
  if (auto slash = value.find('/'); slash != std::string_view::npos) value = value.substr(0, slash);
  if (value.empty()) return "";
  if (value.front() == '[') {
    auto close = value.find(']');
    if (close == std::string_view::npos) return "";
    return Lower(value.substr(1, close - 1));
  }
  if (auto colon = value.rfind(':'); colon != std::string_view::npos) value = value.substr(0, colon);
  return Lower(value);
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         (host.size() > 10 && host.substr(host.size() - 10) == ".localhost");
}

std::string CheckOrigin(const OriginPolicy& policy, std::string_view origin,
                        std::string_view host) {
  const std::string host_name = HostOf(host);
  if (policy.loopback_only && !host.empty() && !IsLoopbackHost(host_name)) {
    return "Host " + std::string(host) + " is not this loopback server (DNS rebinding?)";
  }
  if (origin.empty()) return "";  // not a browser: nothing to check
  for (const std::string& allowed : policy.allowed_origins) {
    if (allowed == "*" || Lower(allowed) == Lower(origin)) return "";
  }
  const std::string origin_host = HostOf(origin);
  if (origin_host.empty()) return "Origin " + std::string(origin) + " is not allowed";
  if (IsLoopbackHost(origin_host)) return "";
  // A page of the server's own site (e.g. the admin console).
  if (!host.empty() && Lower(origin.substr(origin.find("://") == std::string_view::npos
                                               ? 0
                                               : origin.find("://") + 3)) == Lower(host)) {
    return "";
  }
  return "Origin " + std::string(origin) + " is not allowed";
}

}  // namespace llmux::gateway
