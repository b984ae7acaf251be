#include "app/auth_stack.h"

#include <cstdio>

#include "auth/redis_limit_counters.h"
#include "store/open_store.h"

namespace llmux::app {

Result<AuthStack> StartAuth(const AuthStackOptions& o) {
  AuthStack a;
  const std::string url = o.store_url.empty() ? o.data_dir + "/llmux.db" : o.store_url;
  auto store = store::OpenStore(url);
  if (!store.ok()) return store.status().WithContext("opening the store " + store::RedactStoreUrl(url));
  a.store = std::move(store).value();
  auth::LocalAuthOptions auth_options;
  auto issuer = auth::TokenIssuer::LoadOrCreate(o.data_dir + "/token-signing-key.pem");
  if (!issuer.ok()) return issuer.status();
  a.issuer = std::move(issuer).value();
  auth_options.issuer = a.issuer.get();
  if (!o.oidc.issuer.empty()) {
    auto verifier = auth::OidcVerifier::Create(o.oidc);
    if (!verifier.ok()) return verifier.status().WithContext("--oidc-issuer");
    a.oidc = std::move(verifier).value();
    auth::OidcVerifier* v = a.oidc.get();
    auth_options.verify_external_jwt = [v](std::string_view token) { return v->Verify(token); };
  }
  a.service = std::make_unique<auth::LocalAuthService>(*a.store, *a.store, auth_options);
  LLMUX_RETURN_IF_ERROR(a.service->Init());
  const std::string key_file = o.data_dir + "/admin-api-key";
  LLMUX_ASSIGN_OR_RETURN(std::optional<std::string> key,
                         auth::BootstrapAdminKey(*a.service, *a.store, key_file));
  if (key) {
    std::string note = "llmux: first start: created the admin API key (shown this once; also in " +
                       key_file + ", mode 0600):\n  " + *key + "\n";
    std::fputs(note.c_str(), stderr);
  }
  if (o.redis.empty()) {
    a.counters = std::make_unique<auth::InMemoryLimitCounters>();
  } else {
    auth::RedisLimitOptions redis;
    LLMUX_RETURN_IF_ERROR(auth::RedisLimitCounters::ParseAddress(o.redis, &redis).WithContext("--redis"));
    a.counters = std::make_unique<auth::RedisLimitCounters>(redis);
  }
  a.limiter = std::make_unique<auth::RateLimiter>(*a.counters, a.store.get());
  return a;
}

}  // namespace llmux::app
