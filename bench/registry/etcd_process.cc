#include "etcd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"
#include "tests/support/free_port.h"

namespace llmux::bench {

Result<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(const std::string& binary) {
  if (::access(binary.c_str(), X_OK) != 0) return UnavailableError(binary + " is not executable");
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
  std::string pattern =
      (std::filesystem::temp_directory_path() / "llmux-registry-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return IoError("mkdtemp failed");
  etcd->dir_ = pattern;
  etcd->client_port_ = testing::FreeLoopbackPort();
  int peer_port = testing::FreeLoopbackPort();
  while (peer_port == etcd->client_port_) peer_port = testing::FreeLoopbackPort();
  if (etcd->client_port_ == 0 || peer_port == 0) return IoError("no free loopback port");

  const std::string client = "http://127.0.0.1:" + std::to_string(etcd->client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
  std::vector<std::string> args = {binary,
                                   "--name=bench",
                                   "--data-dir=" + etcd->dir_ + "/data",
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=bench=" + peer,
                                   "--log-level=warn"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = etcd->dir_ + "/etcd.log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return IoError("cannot open " + log);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return IoError("fork failed");
  }
  if (pid == 0) {                        // child: only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a benchmark that crashed
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  etcd->pid_ = pid;
  LLMUX_RETURN_IF_ERROR(etcd->WaitReady().WithContext("etcd did not start (log: " + log + ")"));
  return etcd;
}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string EtcdProcess::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

Status EtcdProcess::WaitReady() {
  auto client = discovery::EtcdClient::Create(
      {.endpoints = {endpoint()}, .call_timeout = std::chrono::milliseconds(300)});
  if (!client.ok()) return client.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Status last = UnavailableError("etcd did not answer in time");
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError("etcd exited during start-up");
    }
    auto got = (*client)->Get("/llmux-registry-bench-ready");
    if (got.ok()) return Status::Ok();
    last = got.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

}  // namespace llmux::bench
