#include "gateway/grpc/registry_grpc_service.h"

#include <nlohmann/json.hpp>

#include "base/json_nesting.h"
#include "gateway/grpc/grpc_access.h"
#include "gateway/grpc/status_mapping.h"
#include "services/registry/registry_codec.h"

namespace llmux::gateway {

namespace {

namespace reg = registry;

audit::Actor ActorOf(const CallAccess& access) {
  return audit::Actor{access.principal().subject, access.principal().display, access.source()};
}

void FillVersion(const reg::Version& v, v1::RegistryVersion* p) {
  p->set_model(v.model);
  p->set_digest(v.digest);
  p->set_path(v.path);
  p->set_size_bytes(v.size_bytes);
  p->set_format(v.format);
  p->set_architecture(v.architecture);
  p->set_created_at(v.created_at);
  p->set_created_by(v.created_by);
}

void FillModel(const reg::ModelDetail& d, v1::RegistryModel* p) {
  p->set_name(d.model.name);
  p->set_parameters_json(reg::ParametersToJson(d.model.parameters).dump());
  p->set_created_at(d.model.created_at);
  p->set_updated_at(d.model.updated_at);
  for (const reg::Version& v : d.versions) FillVersion(v, p->add_versions());
  for (const reg::Tag& t : d.tags) {
    v1::RegistryTag* tag = p->add_tags();
    tag->set_name(t.name);
    tag->set_digest(t.digest);
    tag->set_updated_at(t.updated_at);
    tag->set_updated_by(t.updated_by);
  }
}

void FillChange(const reg::Change& c, v1::RegistryChange* p) {
  p->set_id(c.id);
  p->set_time_ms(c.time_ms);
  p->set_actor(c.actor);
  p->set_actor_name(c.actor_name);
  p->set_model(c.model);
  p->set_kind(c.kind);
  p->set_target(c.target);
  p->set_before_json(c.before);
  p->set_after_json(c.after);
  p->set_rollback_of(c.rollback_of);
}

Result<reg::ModelParameters> ParametersFromText(const std::string& text) {
  if (text.size() > kMaxParametersJsonBytes) {
    return InvalidArgumentError("parameters_json is longer than " +
                                std::to_string(kMaxParametersJsonBytes) + " bytes")
        .WithField("parameters_json");
  }
  if (!JsonNestingWithin(text))
    return InvalidArgumentError(JsonTooDeepMessage()).WithField("parameters_json");
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded())
    return InvalidArgumentError("parameters_json is not valid JSON").WithField("parameters_json");
  return reg::ParametersFromJson(json);
}

}  // namespace

using Reactor = RegistryGrpcService::Reactor;
using Context = RegistryGrpcService::Context;

Reactor* RegistryGrpcService::ListModels(Context* c, const v1::ListRegistryModelsRequest* req,
                                         v1::ListRegistryModelsResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Registry/ListModels", [&](CallAccess&) -> Status {
    if (!req->name().empty()) {
      LLMUX_ASSIGN_OR_RETURN(reg::ModelDetail d, registry_.Show(req->name()));
      FillModel(d, resp->add_models());
      return Status::Ok();
    }
    LLMUX_ASSIGN_OR_RETURN(std::vector<reg::ModelDetail> all, registry_.List());
    for (const reg::ModelDetail& d : all) FillModel(d, resp->add_models());
    return Status::Ok();
  });
}

Reactor* RegistryGrpcService::Resolve(Context* c, const v1::ResolveRequest* req,
                                      v1::RegistryVersion* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Registry/Resolve", [&](CallAccess&) -> Status {
    LLMUX_ASSIGN_OR_RETURN(reg::Version v, registry_.Resolve(req->ref()));
    FillVersion(v, resp);
    return Status::Ok();
  });
}

Reactor* RegistryGrpcService::History(Context* c, const v1::HistoryRequest* req,
                                      v1::HistoryResponse* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Registry/History", [&](CallAccess&) -> Status {
    reg::ChangeQuery q;
    q.model = req->model();
    if (req->before_id() < 0)
      return InvalidArgumentError("before_id must not be negative").WithField("before_id");
    q.before_id = req->before_id();
    if (req->limit() < 0 || req->limit() > 1000) {
      return InvalidArgumentError("limit must be between 1 and 1000").WithField("limit");
    }
    if (req->limit() > 0) q.limit = req->limit();
    LLMUX_ASSIGN_OR_RETURN(reg::ChangeList list, registry_.History(q));
    for (const reg::Change& change : list.items) FillChange(change, resp->add_changes());
    resp->set_has_more(list.has_more);
    resp->set_next_cursor(list.next_cursor);
    return Status::Ok();
  });
}

Reactor* RegistryGrpcService::PutTag(Context* c, const v1::PutTagRequest* req,
                                     v1::RegistryChange* resp) {
  return AdmitAndRunUnary(gate_, c, "/llmux.v1.Registry/PutTag", [&](CallAccess& access) -> Status {
    LLMUX_ASSIGN_OR_RETURN(reg::Change change, registry_.SetTag(ActorOf(access), req->model(),
                                                                req->tag(), req->digest()));
    FillChange(change, resp);
    return Status::Ok();
  });
}

Reactor* RegistryGrpcService::SetParameters(Context* c, const v1::SetParametersRequest* req,
                                            v1::RegistryChange* resp) {
  return AdmitAndRunUnary(
      gate_, c, "/llmux.v1.Registry/SetParameters", [&](CallAccess& access) -> Status {
        LLMUX_ASSIGN_OR_RETURN(reg::ModelParameters parameters,
                               ParametersFromText(req->parameters_json()));
        LLMUX_ASSIGN_OR_RETURN(reg::Change change,
                               registry_.SetParameters(ActorOf(access), req->model(), parameters));
        FillChange(change, resp);
        return Status::Ok();
      });
}

Reactor* RegistryGrpcService::Rollback(Context* c, const v1::RollbackRequest* req,
                                       v1::RegistryChange* resp) {
  return AdmitAndRunUnary(
      gate_, c, "/llmux.v1.Registry/Rollback", [&](CallAccess& access) -> Status {
        LLMUX_ASSIGN_OR_RETURN(reg::Change change,
                               registry_.Rollback(ActorOf(access), req->change_id()));
        FillChange(change, resp);
        return Status::Ok();
      });
}

}  // namespace llmux::gateway
