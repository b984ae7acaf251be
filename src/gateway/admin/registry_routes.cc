#include "gateway/admin/registry_routes.h"

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <initializer_list>
#include <memory>
#include <string>

#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "gateway/admin/served_models.h"
#include "net/http/off_loop.h"
#include "services/registry/registry_codec.h"
#include "services/registry/registry_service.h"
#include "serving/model_manager.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;
namespace reg = registry;

audit::Actor ActorOf(const CallAccess& access) {
  return audit::Actor{access.principal().subject, access.principal().display, access.source()};
}

Json VersionJson(const reg::Version& v) {
  return Json{{"object", "registry.version"},
              {"model", v.model},
              {"digest", v.digest},
              {"path", v.path},
              {"size_bytes", v.size_bytes},
              {"format", v.format},
              {"architecture", v.architecture},
              {"created_at", v.created_at},
              {"created_by", v.created_by}};
}

Json ModelJson(const reg::ModelDetail& d) {
  Json versions = Json::array();
  for (const auto& v : d.versions) versions.push_back(VersionJson(v));
  Json tags = Json::array();
  for (const auto& t : d.tags) {
    tags.push_back(Json{{"name", t.name},
                        {"digest", t.digest},
                        {"updated_at", t.updated_at},
                        {"updated_by", t.updated_by}});
  }
  return Json{{"object", "registry.model"},
              {"name", d.model.name},
              {"created_at", d.model.created_at},
              {"updated_at", d.model.updated_at},
              {"parameters", reg::ParametersToJson(d.model.parameters)},
              {"versions", versions},
              {"tags", tags}};
}

// before/after are JSON text written by the store; shown as JSON values.
Json ChangeJson(const reg::Change& c) {
  auto value = [](const std::string& text) {
    Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    return j.is_discarded() ? Json(text) : j;
  };
  return Json{{"object", "registry.change"},
              {"id", c.id},
              {"time_ms", c.time_ms},
              {"actor", c.actor},
              {"actor_name", c.actor_name},
              {"model", c.model},
              {"kind", c.kind},
              {"target", c.target},
              {"before", value(c.before)},
              {"after", value(c.after)},
              {"rollback_of", c.rollback_of}};
}

Status OnlyFields(const Json& body, std::initializer_list<std::string_view> allowed) {
  if (!body.is_object()) return InvalidArgumentError("the request body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (std::string_view a : allowed) known = known || it.key() == a;
    if (!known) {
      return InvalidArgumentError("unknown field '" + it.key().substr(0, 64) + "'")
          .WithField(it.key().substr(0, 64));
    }
  }
  return Status::Ok();
}

Result<std::string> RequiredString(const Json& body, const char* name) {
  if (!body.contains(name))
    return InvalidArgumentError(std::string(name) + " is required").WithField(name);
  const Json& v = body.at(name);
  if (!v.is_string())
    return InvalidArgumentError(std::string(name) + " must be a string").WithField(name);
  return v.get<std::string>();
}

Result<std::string> RequiredQuery(const http::Request& req, const char* name) {
  auto v = QueryValue(req.query, name);
  if (!v || v->empty()) {
    return InvalidArgumentError("query parameter " + std::string(name) + " is required")
        .WithField(name);
  }
  return *v;
}

Result<int64_t> QueryInt(const http::Request& req, const char* name, int64_t fallback) {
  auto v = QueryValue(req.query, name);
  if (!v) return fallback;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) {
    return InvalidArgumentError(std::string(name) + " must be an integer").WithField(name);
  }
  return out;
}

// Registers a handler whose body computes the reply's JSON.
template <typename F>
void JsonRoute(GuardedRouter& router, const char* method, const char* path, int ok_status, F body) {
  const ErrorReply* errors = &router.error_reply();
  router.Route(method, path,
               [errors, ok_status, body](http::Request& req, http::ResponseWriter& w,
                                         CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, ok_status, [&] { return body(req, access); });
               });
}

Json DeployJson(const ServedUpdate& done) {
  return Json{{"id", done.deploy_id}, {"served", done.served}, {"state", "committed"}};
}

// Brings every served name that refers to model:tag to the version the tag points at now, as the
// role does it (ServedModels); one entry per name with its outcome, each audited.
Json UpdateServedCopies(reg::RegistryService& registry, ServedModels& served,
                        const audit::Actor& actor, const std::string& model,
                        const std::string& tag) {
  Json updated = Json::array();
  const std::string ref = model + ":" + tag;
  auto version = registry.Resolve(ref);
  if (!version.ok()) return updated;
  for (const std::string& name : served.ReferringTo(model, tag, *version)) {
    Result<ServedUpdate> done = served.Update(name, *version, actor);
    registry.AuditServing(actor, "update", name, ref, done.status());
    Json entry{{"name", name}, {"path", version->path}, {"ok", done.ok()}};
    if (!done.ok()) {
      entry["error"] = done.status().message();
    } else if (!done->deploy_id.empty()) {
      entry["deploy"] = DeployJson(*done);
    }
    updated.push_back(std::move(entry));
  }
  return updated;
}

}  // namespace

void RegisterRegistryRoutes(GuardedRouter& router, reg::RegistryService& service,
                            serving::ModelManager* models, ServedModels* served) {
  reg::RegistryService* s = &service;
  JsonRoute(router, "GET", "/admin/v1/registry/models", 200,
            [s](http::Request& req, CallAccess&) -> Result<Json> {
              if (auto name = QueryValue(req.query, "name")) {
                LLMUX_ASSIGN_OR_RETURN(reg::ModelDetail d, s->Show(*name));
                return ModelJson(d);
              }
              LLMUX_ASSIGN_OR_RETURN(auto models, s->List());
              Json data = Json::array();
              for (const auto& d : models) data.push_back(ModelJson(d));
              return Json{{"object", "list"}, {"data", data}};
            });
  JsonRoute(router, "GET", "/admin/v1/registry/resolve", 200,
            [s](http::Request& req, CallAccess&) -> Result<Json> {
              LLMUX_ASSIGN_OR_RETURN(std::string ref, RequiredQuery(req, "ref"));
              LLMUX_ASSIGN_OR_RETURN(reg::Version v, s->Resolve(ref));
              return VersionJson(v);
            });
  JsonRoute(router, "GET", "/admin/v1/registry/history", 200,
            [s](http::Request& req, CallAccess&) -> Result<Json> {
              reg::ChangeQuery q;
              q.model = QueryValue(req.query, "model").value_or("");
              LLMUX_ASSIGN_OR_RETURN(q.before_id, QueryInt(req, "before", 0));
              LLMUX_ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 50));
              if (limit < 1 || limit > 1000) {
                return InvalidArgumentError("limit must be between 1 and 1000").WithField("limit");
              }
              q.limit = static_cast<int>(limit);
              LLMUX_ASSIGN_OR_RETURN(reg::ChangeList list, s->History(q));
              Json data = Json::array();
              for (const auto& c : list.items) data.push_back(ChangeJson(c));
              Json out{{"object", "list"}, {"data", data}, {"has_more", list.has_more}};
              if (list.has_more) out["next_cursor"] = list.next_cursor;
              return out;
            });
  JsonRoute(router, "DELETE", "/admin/v1/registry/models", 200,
            [s](http::Request& req, CallAccess& access) -> Result<Json> {
              LLMUX_ASSIGN_OR_RETURN(std::string name, RequiredQuery(req, "name"));
              LLMUX_ASSIGN_OR_RETURN(reg::Change c, s->RemoveModel(ActorOf(access), name));
              return ChangeJson(c);
            });
  // 201 when the version is new; 200 (created: false) when the model already had the digest.
  // Hashing a file of many GiB takes a while: done off the HTTP io threads, one at a time.
  const ErrorReply* errors = &router.error_reply();
  auto hashing = std::make_shared<boost::asio::thread_pool>(1);
  router.Route("POST", "/admin/v1/registry/versions",
               [s, errors, hashing](http::Request& req, http::ResponseWriter& w,
                                    CallAccess& access) -> awaitable<void> {
                 bool created = false;
                 auto body = [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
                   LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"path", "model", "tag"}));
                   reg::RegisterRequest r;
                   LLMUX_ASSIGN_OR_RETURN(r.path, RequiredString(b, "path"));
                   LLMUX_ASSIGN_OR_RETURN(r.model, RequiredString(b, "model"));
                   if (b.contains("tag")) {
                     if (b["tag"].is_null()) {
                       r.tag.reset();
                     } else {
                       LLMUX_ASSIGN_OR_RETURN(r.tag, RequiredString(b, "tag"));
                     }
                   }
                   LLMUX_ASSIGN_OR_RETURN(reg::Registration done, s->Register(ActorOf(access), r));
                   created = done.created;
                   Json out{{"object", "registry.registration"},
                            {"version", VersionJson(done.version)},
                            {"created", done.created},
                            {"tag_change", nullptr}};
                   if (done.tag_change) out["tag_change"] = ChangeJson(*done.tag_change);
                   return out;
                 };
                 Result<Json> result = co_await http::RunOffLoop(*hashing, body);
                 const int status = created ? 201 : 200;
                 co_await ReplyJson(w, *errors, status, [&] { return std::move(result); });
               });
  JsonRoute(router, "DELETE", "/admin/v1/registry/versions", 200,
            [s](http::Request& req, CallAccess& access) -> Result<Json> {
              LLMUX_ASSIGN_OR_RETURN(std::string model, RequiredQuery(req, "model"));
              LLMUX_ASSIGN_OR_RETURN(std::string digest, RequiredQuery(req, "digest"));
              LLMUX_ASSIGN_OR_RETURN(reg::Change c,
                                     s->RemoveVersion(ActorOf(access), model, digest));
              return ChangeJson(c);
            });
  // Loading a model takes a while: hot updates, loads and unloads run off the io threads, one at
  // a time.
  auto updating = std::make_shared<boost::asio::thread_pool>(1);
  // Moving a tag also updates every served model whose name refers to it ("m" and "m:latest" to
  // m's latest, "m:q8" to m:q8), as the role does it (ServedModels: a hot update in this
  // process, a rollout to the workers). The tag moves whatever the updates give; "updated" lists
  // each served name with its outcome.
  router.Route("PUT", "/admin/v1/registry/tags",
               [s, served, errors, updating](http::Request& req, http::ResponseWriter& w,
                                             CallAccess& access) -> awaitable<void> {
                 auto body = [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
                   LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"model", "tag", "digest"}));
                   LLMUX_ASSIGN_OR_RETURN(std::string model, RequiredString(b, "model"));
                   LLMUX_ASSIGN_OR_RETURN(std::string tag, RequiredString(b, "tag"));
                   LLMUX_ASSIGN_OR_RETURN(std::string digest, RequiredString(b, "digest"));
                   LLMUX_ASSIGN_OR_RETURN(reg::Change c,
                                          s->SetTag(ActorOf(access), model, tag, digest));
                   Json out = ChangeJson(c);
                   if (served != nullptr)
                     out["updated"] = UpdateServedCopies(*s, *served, ActorOf(access), model, tag);
                   return out;
                 };
                 Result<Json> result = co_await http::RunOffLoop(*updating, body);
                 co_await ReplyJson(w, *errors, 200, [&] { return std::move(result); });
               });
  JsonRoute(router, "DELETE", "/admin/v1/registry/tags", 200,
            [s](http::Request& req, CallAccess& access) -> Result<Json> {
              LLMUX_ASSIGN_OR_RETURN(std::string model, RequiredQuery(req, "model"));
              LLMUX_ASSIGN_OR_RETURN(std::string tag, RequiredQuery(req, "tag"));
              LLMUX_ASSIGN_OR_RETURN(reg::Change c, s->RemoveTag(ActorOf(access), model, tag));
              return ChangeJson(c);
            });
  JsonRoute(router, "PUT", "/admin/v1/registry/parameters", 200,
            [s](http::Request& req, CallAccess& access) -> Result<Json> {
              LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
              LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"model", "parameters"}));
              LLMUX_ASSIGN_OR_RETURN(std::string model, RequiredString(b, "model"));
              if (!b.contains("parameters")) {
                return InvalidArgumentError("parameters is required").WithField("parameters");
              }
              LLMUX_ASSIGN_OR_RETURN(reg::ModelParameters p,
                                     reg::ParametersFromJson(b["parameters"]));
              LLMUX_ASSIGN_OR_RETURN(reg::Change c, s->SetParameters(ActorOf(access), model, p));
              Json out = ChangeJson(c);
              // Request defaults apply at once; the load settings when the model loads next.
              out["load_settings_apply"] = "at the model's next load";
              return out;
            });
  // Rolling back a tag change moves the tag back: served names that refer to it follow, as
  // for a tag move.
  router.Route(
      "POST", "/admin/v1/registry/rollback",
      [s, served, errors, updating](http::Request& req, http::ResponseWriter& w,
                                    CallAccess& access) -> awaitable<void> {
        auto body = [&]() -> Result<Json> {
          LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
          LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"change_id"}));
          if (!b.contains("change_id") || !b["change_id"].is_number_integer()) {
            return InvalidArgumentError("change_id must be an integer").WithField("change_id");
          }
          LLMUX_ASSIGN_OR_RETURN(reg::Change c,
                                 s->Rollback(ActorOf(access), b["change_id"].get<int64_t>()));
          Json out = ChangeJson(c);
          if (served != nullptr && c.kind.rfind("tag.", 0) == 0) {
            out["updated"] = UpdateServedCopies(*s, *served, ActorOf(access), c.model, c.target);
          }
          return out;
        };
        Result<Json> result = co_await http::RunOffLoop(*updating, body);
        co_await ReplyJson(w, *errors, 200, [&] { return std::move(result); });
      });
  if (models == nullptr && served == nullptr) return;
  // Load, unload and update share the pool of the tag route: one model change at a time.
  auto off_loop_route = [&router, errors, updating](const char* path, auto body) {
    router.Route("POST", path,
                 [errors, updating, body](http::Request& req, http::ResponseWriter& w,
                                          CallAccess& access) -> awaitable<void> {
                   Result<Json> result =
                       co_await http::RunOffLoop(*updating, [&] { return body(req, access); });
                   co_await ReplyJson(w, *errors, 200, [&] { return std::move(result); });
                 });
  };
  // Load and unload act on this process's models (all in one); a gateway has none.
  if (models != nullptr) {
    // Loads a registry version (by ref, so only files the registry knows) under a served name.
    off_loop_route(
        "/admin/v1/models/load",
        [s, models](http::Request& req, CallAccess& access) -> Result<Json> {
          LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
          LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"name", "ref", "keep_alive"}));
          LLMUX_ASSIGN_OR_RETURN(std::string name, RequiredString(b, "name"));
          LLMUX_ASSIGN_OR_RETURN(std::string ref, RequiredString(b, "ref"));
          serving::ModelSpec spec;
          if (b.contains("keep_alive")) {
            if (!b["keep_alive"].is_number()) {
              return InvalidArgumentError("keep_alive must be a number of seconds")
                  .WithField("keep_alive");
            }
            spec.keep_alive_s = b["keep_alive"].get<double>();
          }
          auto version = s->Resolve(ref);
          if (!version.ok()) return version.status().WithField("ref");
          spec.name = name;
          spec.path = version->path;
          const Status loaded = models->LoadModel(spec);
          s->AuditServing(ActorOf(access), "load", name, ref, loaded);
          LLMUX_RETURN_IF_ERROR(loaded);
          return Json{
              {"name", name}, {"ref", ref}, {"digest", version->digest}, {"path", version->path}};
        });
    off_loop_route("/admin/v1/models/unload",
                   [s, models](http::Request& req, CallAccess& access) -> Result<Json> {
                     LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
                     LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"name"}));
                     LLMUX_ASSIGN_OR_RETURN(std::string name, RequiredString(b, "name"));
                     const Status unloaded = models->UnloadModel(name);
                     s->AuditServing(ActorOf(access), "unload", name, "", unloaded);
                     LLMUX_RETURN_IF_ERROR(unloaded);
                     return Json{{"name", name}, {"unloaded", true}};
                   });
  }
  if (served == nullptr) return;
  router.Route(
      "POST", "/admin/v1/models/update",
      [s, served, errors, updating](http::Request& req, http::ResponseWriter& w,
                                    CallAccess& access) -> awaitable<void> {
        auto body = [&]() -> Result<Json> {
          LLMUX_ASSIGN_OR_RETURN(Json b, BodyJson(req));
          LLMUX_RETURN_IF_ERROR(OnlyFields(b, {"name", "ref"}));
          LLMUX_ASSIGN_OR_RETURN(std::string name, RequiredString(b, "name"));
          LLMUX_ASSIGN_OR_RETURN(std::string ref, RequiredString(b, "ref"));
          auto version = s->Resolve(ref);
          if (!version.ok()) return version.status().WithField("ref");
          Result<ServedUpdate> done = served->Update(name, *version, ActorOf(access));
          s->AuditServing(ActorOf(access), "update", name, ref, done.status());
          LLMUX_RETURN_IF_ERROR(done.status());
          Json out{
              {"name", name}, {"ref", ref}, {"digest", version->digest}, {"path", version->path}};
          if (!done->deploy_id.empty()) out["deploy"] = DeployJson(*done);
          return out;
        };
        Result<Json> result = co_await http::RunOffLoop(*updating, body);
        co_await ReplyJson(w, *errors, 200, [&] { return std::move(result); });
      });
}
}  // namespace llmux::gateway
