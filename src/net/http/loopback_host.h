// Whether a host names this machine's loopback interface, read strictly. One rule for every
// caller that relaxes a check on loopback: the Host/Origin checks against DNS rebinding, http://
// OIDC issuers, and `serve --no-auth`. A prefix test is not enough: "127.0.0.1.evil.com" and
// "localhost.evil.com" are DNS names anyone can point anywhere.
#pragma once

#include <string_view>

namespace llmux::http {

// `host` as in a URL or a Host header, without port and IPv6 brackets. True for exactly
// "localhost" (any case, one trailing dot allowed), an IPv4 literal in 127.0.0.0/8 written as
// four decimal octets, ::1 and ::ffff:127.x.y.z. False for every DNS name that merely starts or
// ends like one, and for other spellings of numbers ("0x7f.0.0.1", "2130706433", "127.1").
bool IsLoopbackHost(std::string_view host);

}  // namespace llmux::http
