// `llmux user add|list|passwd|rm` and `llmux key create|list|revoke`: manage the auth store
// directly (the same store `llmux serve` uses: --data-dir or --store). Changes are recorded
// in the audit log as done by "cli:<login name>".
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "auth/local_auth_service.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/store_flags.h"

namespace llmux::cli {

namespace {

struct Session {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<auth::LocalAuthService> auth;
  auth::Principal actor = auth::AnonymousAdmin();
  auth::Actor Actor() { return auth::Actor{actor, "cli"}; }
};

Result<Session> Open(const StoreOptions& o) {
  Session s;
  LLMUX_ASSIGN_OR_RETURN(s.store, OpenCliStore(o));
  s.auth = std::make_unique<auth::LocalAuthService>(*s.store, *s.store);
  LLMUX_RETURN_IF_ERROR(s.auth->Init());
  s.actor.subject = CliSubject();
  return s;
}

// One line from stdin; echo is off while a terminal types it.
std::string ReadSecretLine(const char* prompt) {
  const bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    std::fputs(prompt, stderr);
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fputs("\n", stderr);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

// Runs `body` on an opened store; prints the error and returns 1 on failure.
template <typename F>
int WithStore(const StoreOptions& o, F body) {
  auto session = Open(o);
  if (!session.ok()) return ReportError(session.status());
  Status s = body(*session);
  return s.ok() ? 0 : ReportError(s);
}

Result<int64_t> UserId(Session& s, const std::string& name) {
  LLMUX_ASSIGN_OR_RETURN(auth::User user, s.auth->GetUserByName(name));
  return user.id;
}

}  // namespace

Command AddUserCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("user", "manage users of the auth store: add, list, passwd, rm");
  sub->require_subcommand(1);
  auto o = std::make_shared<StoreOptions>();

  struct AddArgs {
    std::string name;
    std::vector<std::string> roles;
    bool no_password = false;
  };
  auto add_args = std::make_shared<AddArgs>();
  auto* add = sub->add_subcommand("add", "add a user; the password is read from stdin");
  add->add_option("name", add_args->name, "user name")->required();
  add->add_option("-r,--role", add_args->roles, "role (repeatable; default: user)");
  add->add_flag("--no-password", add_args->no_password, "no password login (API keys only)");

  auto* list = sub->add_subcommand("list", "list users");

  auto passwd_name = std::make_shared<std::string>();
  auto* passwd = sub->add_subcommand("passwd", "set a user's password, read from stdin");
  passwd->add_option("name", *passwd_name, "user name")->required();

  auto rm_name = std::make_shared<std::string>();
  auto* rm = sub->add_subcommand("rm", "delete a user and their API keys");
  rm->add_option("name", *rm_name, "user name")->required();
  for (CLI::App* leaf : {add, list, passwd, rm}) AddStoreOptions(leaf, *o);

  return {sub, [=] {
            if (add->parsed()) {
              return WithStore(*o, [&](Session& s) -> Status {
                auth::NewUser user;
                user.name = add_args->name;
                if (!add_args->roles.empty()) user.roles = add_args->roles;
                if (!add_args->no_password) user.password = ReadSecretLine("password: ");
                LLMUX_ASSIGN_OR_RETURN(auth::User created, s.auth->CreateUser(s.Actor(), user));
                std::printf("user %s created (id %lld, roles %s)\n", created.name.c_str(),
                            static_cast<long long>(created.id), Joined(created.roles).c_str());
                return Status::Ok();
              });
            }
            if (list->parsed()) {
              return WithStore(*o, [&](Session& s) -> Status {
                std::printf("%-6s %-24s %-24s %s\n", "ID", "NAME", "ROLES", "STATE");
                auth::Page page{0, 1000};
                for (;;) {
                  LLMUX_ASSIGN_OR_RETURN(auto users, s.auth->ListUsers(page));
                  for (const auto& u : users.items) {
                    std::printf("%-6lld %-24s %-24s %s\n", static_cast<long long>(u.id), u.name.c_str(),
                                Joined(u.roles).c_str(), u.disabled ? "disabled" : "active");
                  }
                  if (!users.has_more) return Status::Ok();
                  page.after_id = users.next_cursor;
                }
              });
            }
            if (passwd->parsed()) {
              return WithStore(*o, [&](Session& s) -> Status {
                LLMUX_ASSIGN_OR_RETURN(int64_t id, UserId(s, *passwd_name));
                auth::UserUpdate update;
                update.password = ReadSecretLine("new password: ");
                LLMUX_RETURN_IF_ERROR(s.auth->UpdateUser(s.Actor(), id, update).status());
                std::printf("password of %s changed; their login sessions were ended\n", passwd_name->c_str());
                return Status::Ok();
              });
            }
            return WithStore(*o, [&](Session& s) -> Status {
              LLMUX_ASSIGN_OR_RETURN(int64_t id, UserId(s, *rm_name));
              LLMUX_RETURN_IF_ERROR(s.auth->DeleteUser(s.Actor(), id));
              std::printf("user %s deleted\n", rm_name->c_str());
              return Status::Ok();
            });
          }};
}

Command AddKeyCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("key", "manage API keys: create, list, revoke");
  sub->require_subcommand(1);
  auto o = std::make_shared<StoreOptions>();

  struct CreateArgs {
    std::string user;
    auth::NewKey key;
    int64_t expires_in = 0;
  };
  auto c = std::make_shared<CreateArgs>();
  auto* create = sub->add_subcommand("create", "create a key; prints it once");
  create->add_option("-u,--user", c->user, "owner (default: none, a system key holding its scopes)");
  create->add_option("-n,--name", c->key.name, "a label for the key");
  create->add_option("-s,--scope", c->key.scopes, "permission the key is limited to (repeatable)");
  create->add_option("-m,--model", c->key.allowed_models, "model glob the key may use (repeatable)");
  create->add_option("--expires-in", c->expires_in, "seconds until the key expires (0: never)");
  create->add_option("--rpm", c->key.limits.requests_per_minute, "requests per minute (0: unlimited)");
  create->add_option("--tpm", c->key.limits.tokens_per_minute, "tokens per minute (0: unlimited)");
  create->add_option("--concurrent", c->key.limits.max_concurrent, "concurrent requests (0: unlimited)");
  create->add_option("--budget", c->key.limits.token_budget, "tokens per budget period (0: unlimited)");
  create->add_option("--budget-period", c->key.limits.budget_period_seconds, "budget period in seconds");

  auto list_user = std::make_shared<std::string>();
  auto* list = sub->add_subcommand("list", "list keys (prefixes only, never secrets)");
  list->add_option("-u,--user", *list_user, "only this user's keys");

  auto revoke_id = std::make_shared<int64_t>(0);
  auto* revoke = sub->add_subcommand("revoke", "revoke a key by id");
  revoke->add_option("id", *revoke_id, "key id (see `llmux key list`)")->required();
  for (CLI::App* leaf : {create, list, revoke}) AddStoreOptions(leaf, *o);

  return {sub, [=] {
            if (create->parsed()) {
              return WithStore(*o, [&](Session& s) -> Status {
                auth::NewKey spec = c->key;
                if (!c->user.empty()) {
                  LLMUX_ASSIGN_OR_RETURN(spec.owner_user_id, UserId(s, c->user));
                }
                if (c->expires_in > 0) spec.expires_at = auth::SystemUnixSeconds() + c->expires_in;
                LLMUX_ASSIGN_OR_RETURN(auth::CreatedKey created, s.auth->CreateKey(s.Actor(), spec));
                std::fprintf(stderr, "key %lld created; it is shown this once:\n",
                             static_cast<long long>(created.key.id));
                std::printf("%s\n", created.full_key.c_str());
                return Status::Ok();
              });
            }
            if (list->parsed()) {
              return WithStore(*o, [&](Session& s) -> Status {
                std::optional<int64_t> owner;
                if (!list_user->empty()) {
                  LLMUX_ASSIGN_OR_RETURN(owner, UserId(s, *list_user));
                }
                std::printf("%-6s %-20s %-8s %-16s %-20s %s\n", "ID", "PREFIX", "OWNER", "NAME", "SCOPES",
                            "STATE");
                auth::Page page{0, 1000};
                const int64_t now = auth::SystemUnixSeconds();
                for (;;) {
                  LLMUX_ASSIGN_OR_RETURN(auto keys, s.auth->ListKeys(page, owner));
                  for (const auto& k : keys.items) {
                    const char* state = k.revoked_at ? "revoked"
                                        : (k.expires_at && k.expires_at <= now) ? "expired"
                                                                                 : "active";
                    std::printf("%-6lld %-20s %-8lld %-16s %-20s %s\n", static_cast<long long>(k.id),
                                ("llmux_" + k.prefix).c_str(), static_cast<long long>(k.owner_user_id),
                                k.name.empty() ? "-" : k.name.c_str(), Joined(k.scopes).c_str(), state);
                  }
                  if (!keys.has_more) return Status::Ok();
                  page.after_id = keys.next_cursor;
                }
              });
            }
            return WithStore(*o, [&](Session& s) -> Status {
              LLMUX_RETURN_IF_ERROR(s.auth->RevokeKey(s.Actor(), *revoke_id));
              std::printf("key %lld revoked\n", static_cast<long long>(*revoke_id));
              return Status::Ok();
            });
          }};
}

}  // namespace llmux::cli
