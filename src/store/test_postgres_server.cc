#include "store/test_postgres_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "tests/support/free_port.h"

namespace llmux::store::testing {
namespace fs = std::filesystem;
namespace {

// Highest installed version under /usr/lib/postgresql (or $LLMUX_PG_BINDIR).
std::string FindBinDir() {
  if (const char* env = std::getenv("LLMUX_PG_BINDIR")) return env;
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = (entry.path() / "bin").string();
    if (!fs::exists(bin + "/initdb") || !fs::exists(bin + "/pg_ctl")) continue;
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin;
    }
  }
  return best;
}

std::string ReadTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

// PostgreSQL refuses to run as root: then the commands run as the postgres user.
std::string AsServerUser(const std::string& cmd) {
  if (geteuid() != 0) return cmd;
  return "runuser -u postgres -- " + cmd;
}

TestPostgresServer* g_server = nullptr;

// Stops the server when the test binary ends (also when tests fail).
class StopAtExit : public ::testing::Environment {
 public:
  void TearDown() override {
    if (g_server) g_server->Stop();
  }
};
[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new StopAtExit);

}  // namespace

Result<TestPostgresServer*> TestPostgresServer::Get() {
  static std::mutex mu;
  static Status start_status = UnavailableError("not started");
  std::lock_guard lock(mu);
  if (g_server == nullptr) {
    g_server = new TestPostgresServer();
    start_status = g_server->Start();
  }
  if (!start_status.ok()) return start_status;
  return g_server;
}

Status TestPostgresServer::Start() {
  bindir_ = FindBinDir();
  if (bindir_.empty())
    return UnimplementedError("no PostgreSQL installation under /usr/lib/postgresql");
  char tmpl[] = "/tmp/llmux-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return IoError("mkdtemp failed");
  dir_ = tmpl;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return UnimplementedError("running as root and there is no postgres user");
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return IoError("chown " + dir_);
  }
  const std::string log = dir_ + "/setup.log";
  const std::string initdb = AsServerUser(bindir_ + "/initdb -D " + dir_ +
                                          "/data -U postgres -A trust -N >" + log + " 2>&1");
  if (std::system(initdb.c_str()) != 0) return InternalError("initdb failed: " + ReadTail(log));
  for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
    port_ = llmux::testing::FreeLoopbackPort();
    // Durability is irrelevant for a throwaway server; turning it off keeps tests fast.
    const std::string start = AsServerUser(
        bindir_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 30 -o \"" +
        "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_ +
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start >>" + log +
        " 2>&1");
    running_ = std::system(start.c_str()) == 0;
  }
  if (!running_) {
    return InternalError("pg_ctl start failed: " + ReadTail(log) + ReadTail(dir_ + "/server.log"));
  }
  return Status::Ok();
}

void TestPostgresServer::Stop() {
  if (dir_.empty()) return;
  if (running_) {
    const std::string stop =
        AsServerUser(bindir_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null 2>&1");
    (void)std::system(stop.c_str());
    running_ = false;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_.clear();
}

std::string TestPostgresServer::ConnInfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname +
         " connect_timeout=10";
}

Result<std::string> TestPostgresServer::CreateDatabase() {
  const std::string name = "llmux_test_" + std::to_string(++next_db_);
  PGconn* conn = PQconnectdb(ConnInfo("postgres").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    return UnavailableError("connecting to the test server: " + msg);
  }
  PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string msg = PQerrorMessage(conn);
  PQclear(res);
  PQfinish(conn);
  if (!ok) return InternalError("CREATE DATABASE failed: " + msg);
  return ConnInfo(name);
}

}  // namespace llmux::store::testing
