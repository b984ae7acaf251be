#include "net/http/loopback_host.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace llmux::http {

namespace {

bool IsLocalhostName(std::string_view host) {
  if (host.size() > 1 && host.back() == '.') host.remove_suffix(1);  // "localhost." is localhost
  constexpr std::string_view kLocalhost = "localhost";
  if (host.size() != kLocalhost.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    const char c =
        host[i] >= 'A' && host[i] <= 'Z' ? static_cast<char>(host[i] - 'A' + 'a') : host[i];
    if (c != kLocalhost[i]) return false;
  }
  return true;
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  // inet_pton reads up to a NUL: "127.0.0.1\0.evil.com" would pass as 127.0.0.1.
  if (host.find('\0') != std::string_view::npos) return false;
  if (IsLocalhostName(host)) return true;
  const std::string text(host);  // inet_pton needs a terminated string
  // inet_pton takes only four decimal octets: "127.0.0.1.evil.com" and "0x7f.1" are names.
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0) return true;
  // ::ffff:127.x.y.z, an IPv4 loopback address mapped into IPv6.
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(v6.s6_addr, kMapped, sizeof(kMapped)) == 0 && v6.s6_addr[12] == 127;
}

}  // namespace llmux::http
