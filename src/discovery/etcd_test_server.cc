#include "discovery/etcd_test_server.h"

#include "tests/support/free_port.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"

namespace llmux::discovery {
namespace {

constexpr const char* kEtcd = "/usr/bin/etcd";

Result<int> FreePort() {
  const int port = llmux::testing::FreeLoopbackPort();
  if (port == 0) return IoError("no free loopback port");
  return port;
}

std::string Tail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

Result<std::unique_ptr<EtcdTestServer>> EtcdTestServer::Start() {
  if (::access(kEtcd, X_OK) != 0) return UnavailableError("etcd is not installed at /usr/bin/etcd");
  std::unique_ptr<EtcdTestServer> server(new EtcdTestServer());
  std::string pattern = (std::filesystem::temp_directory_path() / "llmux-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return IoError("mkdtemp failed");
  server->dir_ = pattern;
  LLMUX_ASSIGN_OR_RETURN(server->client_port_, FreePort());
  LLMUX_ASSIGN_OR_RETURN(server->peer_port_, FreePort());
  if (server->peer_port_ == server->client_port_) {
    LLMUX_ASSIGN_OR_RETURN(server->peer_port_, FreePort());
  }
  LLMUX_RETURN_IF_ERROR(server->Launch());
  return server;
}

EtcdTestServer::~EtcdTestServer() {
  Kill();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string EtcdTestServer::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

Status EtcdTestServer::Launch() {
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  // Short raft timings make a single member elect itself quickly (and lower etcd's minimum
  // lease TTL to 1 s), so that tests take seconds.
  std::vector<std::string> args = {kEtcd,
                                   "--name=n1",
                                   "--data-dir=" + dir_ + "/data",
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=n1=" + peer,
                                   "--heartbeat-interval=50",
                                   "--election-timeout=500",
                                   "--log-level=warn"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_ + "/etcd.log";
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return IoError("cannot open " + log);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return IoError("fork failed");
  }
  if (pid == 0) {                        // child: only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test binary that crashed or was killed
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(kEtcd, argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  Status ready = WaitReady(std::chrono::seconds(15));
  if (!ready.ok()) {
    Kill();
    return ready.WithContext("etcd did not start; log tail:\n" + Tail(log, 2000));
  }
  return Status::Ok();
}

Status EtcdTestServer::WaitReady(std::chrono::milliseconds timeout) {
  auto client = EtcdClient::Create(
      {.endpoints = {endpoint()}, .call_timeout = std::chrono::milliseconds(300)});
  if (!client.ok()) return client.status();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status last = Status::Ok();
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError("etcd exited during start-up");
    }
    auto got = (*client)->Get("/llmux-test-server-ready");
    if (got.ok()) return Status::Ok();
    last = got.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last.ok() ? UnavailableError("etcd did not answer in time") : last;
}

void EtcdTestServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::kill(pid_, SIGCONT);  // a stopped process dies only once continued on some kernels
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

Status EtcdTestServer::Restart() {
  Kill();
  return Launch();
}

void EtcdTestServer::Pause() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGSTOP);
  // kill() returns before the process has stopped; until it has, etcd may still answer.
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, WUNTRACED);
}

void EtcdTestServer::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

Result<std::string> EtcdTestServer::Etcdctl(const std::string& args) const {
  const std::string command =
      "ETCDCTL_API=3 etcdctl --endpoints=" + endpoint() + " " + args + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return IoError("popen failed");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  int rc = ::pclose(pipe);
  if (rc != 0) return IoError("etcdctl " + args + " failed (status " + std::to_string(rc) + ")");
  return out;
}

}  // namespace llmux::discovery
