#include "gateway/access/origin_check.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "net/http/loopback_host.h"

namespace llmux::gateway {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A port: 1 to 5 digits, at most 65535.
bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(std::string(s)) <= 65535;
}

// A DNS name or IPv4 literal: letters, digits, '-' and '.', not empty, no empty label.
bool IsRegName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

// Loopback is decided by the one strict rule of net/http: exact literals and localhost, never
// names that start or end like one ("127.0.0.1.evil.com", "localhost.evil.com", "x.localhost").
bool IsLoopback(const Authority& a) { return http::IsLoopbackHost(a.host); }

}  // namespace

std::optional<Authority> ParseAuthority(std::string_view value) {
  Authority out;
  std::string_view rest = value;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string v6(rest.substr(1, close - 1));
    in6_addr addr{};
    if (inet_pton(AF_INET6, v6.c_str(), &addr) != 1) return std::nullopt;
    out.host = Lower(v6);
    out.ipv6 = true;
    rest.remove_prefix(close + 1);
    if (rest.empty()) return out;
    if (rest.front() != ':' || !IsPort(rest.substr(1))) return std::nullopt;
    out.port = std::string(rest.substr(1));
    return out;
  }
  const size_t colon = rest.find(':');
  std::string_view host = rest.substr(0, colon);
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);  // "localhost." is localhost
  if (!IsRegName(host)) return std::nullopt;
  out.host = Lower(host);
  if (colon != std::string_view::npos) {
    if (!IsPort(rest.substr(colon + 1))) return std::nullopt;
    out.port = std::string(rest.substr(colon + 1));
  }
  return out;
}

std::optional<Origin> ParseOrigin(std::string_view value) {
  const size_t sep = value.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Origin out;
  out.scheme = Lower(value.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  auto authority = ParseAuthority(value.substr(sep + 3));  // an Origin has no path or userinfo
  if (!authority) return std::nullopt;
  out.authority = std::move(*authority);
  return out;
}

std::string CheckOrigin(const OriginPolicy& policy, std::string_view origin, std::string_view host) {
  const std::optional<Authority> server = host.empty() ? std::nullopt : ParseAuthority(host);
  if (!host.empty() && !server) return "Host " + std::string(host) + " is not a host name";
  // Host names the configured origins use are accepted as Host too (a reverse proxy's name).
  auto configured_host = [&](const Authority& h) {
    for (const std::string& allowed : policy.allowed_origins) {
      auto o = ParseOrigin(allowed);
      if (o && o->authority.host == h.host) return true;
    }
    return false;
  };
  if (policy.loopback_only && server && !IsLoopback(*server) && !configured_host(*server)) {
    return "Host " + std::string(host) + " is not this loopback server (DNS rebinding?)";
  }
  if (origin.empty()) return "";  // not a browser: nothing to check
  for (const std::string& allowed : policy.allowed_origins) {
    if (allowed == "*") return "";
  }
  const std::optional<Origin> from = ParseOrigin(origin);
  if (!from) return "Origin " + std::string(origin) + " is not allowed";
  for (const std::string& allowed : policy.allowed_origins) {
    auto o = ParseOrigin(allowed);
    if (o && o->scheme == from->scheme && o->authority.host == from->authority.host &&
        o->authority.port == from->authority.port) {
      return "";
    }
  }
  if (IsLoopback(from->authority)) return "";
  // A page of the server's own site (e.g. the admin console): same host and port.
  if (server && !policy.loopback_only && from->authority.host == server->host &&
      from->authority.port == server->port) {
    return "";
  }
  return "Origin " + std::string(origin) + " is not allowed";
}

}  // namespace llmux::gateway
