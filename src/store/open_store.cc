#include "store/open_store.h"

#include <regex>

#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace llmux::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  if (url.empty()) return InvalidArgumentError("empty store URL");
  if (IsPostgresUrl(url)) return OpenPostgresStore(url);
  if (url.rfind("sqlite:", 0) == 0) return OpenSqliteStore(url.substr(7));
  if (url.find("://") != std::string::npos) {
    return InvalidArgumentError("unknown store URL scheme in " + RedactStoreUrl(url) +
                                " (use postgresql://... or a SQLite file path)");
  }
  return OpenSqliteStore(url);
}

bool IsPostgresUrl(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return true;
  // libpq's keyword=value form ("host=db dbname=llmux user=llmux").
  for (const char* keyword : {"host=", "hostaddr=", "dbname=", "user=", "port=", "service="}) {
    if (url.rfind(keyword, 0) == 0) return true;
  }
  return false;
}

std::string RedactStoreUrl(const std::string& url) {
  // scheme://user:password@host -> scheme://user:***@host; also password=... parameters.
  static const std::regex kUserinfo(R"(^([a-z]+://[^:/@]*):[^@/]*@)");
  static const std::regex kParam(R"(password=[^&\s]*)");
  std::string out = std::regex_replace(url, kUserinfo, "$1:***@");
  return std::regex_replace(out, kParam, "password=***");
}

}  // namespace llmux::store
