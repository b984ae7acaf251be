// Test helper: a throwaway PostgreSQL server in a temporary directory, started on first use and
// stopped (its directory deleted) when the test binary ends.
#pragma once

#include <string>

#include "base/status.h"

namespace llmux::store::testing {

class TestPostgresServer {
 public:
  // The process-wide server, started on the first call. kUnimplemented when no PostgreSQL
  // installation is found (tests then skip); any other error is a real failure.
  static Result<TestPostgresServer*> Get();

  // Creates a fresh empty database and returns its libpq connection string.
  Result<std::string> CreateDatabase();
  std::string ConnInfo(const std::string& dbname) const;

  void Stop();

 private:
  Status Start();
  std::string bindir_;
  std::string dir_;
  int port_ = 0;
  int next_db_ = 0;
  bool running_ = false;
};

}  // namespace llmux::store::testing
