// The persistent store: users, roles, API keys, usage counters that must survive restarts,
// login refresh tokens, the audit log, prompt templates, the request log and the model
// registry. One implementation, two backends: SQLite (sqlite_store.h, the embedded default)
// and PostgreSQL (postgres_store.h).
//
// The services declare the narrow interfaces they need, with their own types, and Store
// implements them, so that each service is handed only its part of the store:
//   auth::AuthStore, auth::UsageStore   auth/auth_store.h (errors and secrets: see there)
//   audit::AuditLog                     services/audit/audit_log.h
//   prompts::PromptStore                services/prompts/prompt_store.h
//   requestlog::RequestLogStore         services/requestlog/request_log_store.h
//   registry::RegistryStore             services/registry/registry_store.h
// Besides kUnimplemented for a schema newer than this binary. Every method is thread-safe.
#pragma once

#include <cstdint>

#include "auth/auth_store.h"
#include "auth/auth_types.h"
#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/prompts/prompt_store.h"
#include "services/registry/registry_store.h"
#include "services/requestlog/request_log_store.h"

namespace llmux::store {

// The rows under their store names (the types belong to the services that declare them).
using User = auth::StoredUser;
using ApiKey = auth::StoredKey;
using RefreshToken = auth::StoredRefreshToken;
using Limits = auth::Limits;
using Role = auth::Role;
using Page = auth::Page;
template <typename T>
using PageResult = auth::PageResult<T>;
using AuditEvent = audit::Event;
using AuditPage = audit::Page;

class Store : public auth::AuthStore,
              public auth::UsageStore,
              public audit::AuditLog,
              public prompts::PromptStore,
              public requestlog::RequestLogStore,
              public registry::RegistryStore {
 public:
  ~Store() override = default;

  // Highest schema migration applied to the database.
  virtual Result<int> SchemaVersion() = 0;
};

}  // namespace llmux::store
