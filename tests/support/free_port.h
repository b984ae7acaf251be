// For tests that start servers of their own (etcd, Redis, PostgreSQL, openssl s_server): a TCP
// port on 127.0.0.1 that the kernel just handed out and nobody holds now. The server binds it a
// moment later, a race with other processes that is harmless in practice.
#pragma once

namespace llmux::testing {

// 0 when no port could be had.
int FreeLoopbackPort();

}  // namespace llmux::testing
