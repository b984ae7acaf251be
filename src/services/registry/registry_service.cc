#include "services/registry/registry_service.h"

#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include "base/log.h"
#include "engine/gguf/gguf_reader.h"
#include "services/registry/file_digest.h"
#include "services/registry/registry_codec.h"

namespace llmux::registry {

namespace {

constexpr size_t kMaxPathLength = 4096;
constexpr size_t kMinDigestPrefix = 12;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The file's absolute path, with symbolic links resolved: what the version records.
Result<std::string> CanonicalPath(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("path is required").WithField("path");
  if (path.size() > kMaxPathLength || path.find('\0') != std::string::npos) {
    return InvalidArgumentError("path is too long or malformed").WithField("path");
  }
  std::error_code ec;
  std::filesystem::path p = std::filesystem::canonical(path, ec);
  if (ec) return NotFoundError("cannot read " + path + ": " + ec.message());
  return p.string();
}

}  // namespace

RegistryService::RegistryService(RegistryStore& store, audit::AuditLog& audit,
                                 RegistryServiceOptions options)
    : store_(store), audit_(audit), options_(options) {}

Result<std::vector<ModelDetail>> RegistryService::List() {
  LLMUX_ASSIGN_OR_RETURN(std::vector<Model> models, store_.ListRegisteredModels());
  std::vector<ModelDetail> out;
  out.reserve(models.size());
  for (Model& m : models) {
    ModelDetail d;
    LLMUX_ASSIGN_OR_RETURN(d.versions, store_.ListModelVersions(m.name));
    LLMUX_ASSIGN_OR_RETURN(d.tags, store_.ListModelTags(m.name));
    d.model = std::move(m);
    out.push_back(std::move(d));
  }
  return out;
}

Result<ModelDetail> RegistryService::Show(std::string_view model) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  ModelDetail d;
  LLMUX_ASSIGN_OR_RETURN(d.model, store_.GetRegisteredModel(model));
  LLMUX_ASSIGN_OR_RETURN(d.versions, store_.ListModelVersions(model));
  LLMUX_ASSIGN_OR_RETURN(d.tags, store_.ListModelTags(model));
  return d;
}

Result<Version> RegistryService::Resolve(std::string_view ref) {
  LLMUX_ASSIGN_OR_RETURN(ModelRef r, ParseModelRef(ref));
  LLMUX_ASSIGN_OR_RETURN(ModelDetail d, Show(r.name));
  for (const Tag& t : d.tags) {
    if (t.name != r.tag) continue;
    for (Version& v : d.versions) {
      if (v.digest == t.digest) return std::move(v);
    }
  }
  return NotFoundError("model '" + r.name + "' has no tag '" + r.tag + "'");
}

Result<Registration> RegistryService::Register(const audit::Actor& actor,
                                               const RegisterRequest& request) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(request.model));
  if (request.tag) LLMUX_RETURN_IF_ERROR(ValidateTagName(*request.tag));
  auto checked = [&]() -> Result<Version> {
    LLMUX_ASSIGN_OR_RETURN(std::string path, CanonicalPath(request.path));
    // The header first (cheap, and the reason a file is refused), then the digest.
    auto gguf = gguf::GgufFile::Open(path);
    if (!gguf.ok()) {
      return InvalidArgumentError("not a readable GGUF file: " + gguf.status().message())
          .WithField("path");
    }
    Version v;
    v.model = request.model;
    v.path = path;
    v.format = "gguf";
    v.architecture = (*gguf)->GetString("general.architecture").value_or("");
    gguf->reset();
    LLMUX_ASSIGN_OR_RETURN(FileDigest digest, Sha256File(path));
    v.digest = digest.digest;
    v.size_bytes = digest.size_bytes;
    v.created_at = NowMs() / 1000;
    v.created_by = actor.display;
    return v;
  }();
  if (!checked.ok()) {
    Audit(actor, kVersionRegister, request.model, request.path.substr(0, 256), checked.status());
    return checked.status();
  }
  Registration out;
  out.version = std::move(checked).value();
  auto added = store_.AddModelVersion(out.version, NewChange(actor));
  if (added.ok()) {
    out.created = true;
    (void)Finish(actor, kVersionRegister, request.model, std::move(added));
  } else if (added.status().code() == StatusCode::kAlreadyExists) {
    // Registered before: the stored version stands (with its original path and time).
    LLMUX_ASSIGN_OR_RETURN(auto versions, store_.ListModelVersions(request.model));
    for (Version& v : versions) {
      if (v.digest == out.version.digest) out.version = std::move(v);
    }
  } else {
    return Finish(actor, kVersionRegister, request.model, std::move(added)).status();
  }
  if (request.tag) {
    auto tagged =
        store_.SetModelTag(request.model, *request.tag, out.version.digest, NewChange(actor));
    LLMUX_ASSIGN_OR_RETURN(Change change, Finish(actor, kTagSet, request.model, std::move(tagged)));
    out.tag_change = std::move(change);
  }
  return out;
}

Result<Change> RegistryService::SetTag(const audit::Actor& actor, std::string_view model,
                                       std::string_view tag, std::string_view digest) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  LLMUX_RETURN_IF_ERROR(ValidateTagName(tag));
  LLMUX_ASSIGN_OR_RETURN(std::string full, FindDigest(model, digest));
  return Finish(actor, kTagSet, model, store_.SetModelTag(model, tag, full, NewChange(actor)));
}

Result<Change> RegistryService::RemoveTag(const audit::Actor& actor, std::string_view model,
                                          std::string_view tag) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  LLMUX_RETURN_IF_ERROR(ValidateTagName(tag));
  return Finish(actor, kTagRemove, model, store_.RemoveModelTag(model, tag, NewChange(actor)));
}

Result<Change> RegistryService::SetParameters(const audit::Actor& actor, std::string_view model,
                                              const ModelParameters& parameters) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  LLMUX_RETURN_IF_ERROR(ValidateParameters(parameters));
  return Finish(actor, kParametersSet, model,
                store_.SetModelParameters(model, parameters, NewChange(actor)));
}

Result<Change> RegistryService::RemoveVersion(const audit::Actor& actor, std::string_view model,
                                              std::string_view digest) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  LLMUX_ASSIGN_OR_RETURN(std::string full, FindDigest(model, digest));
  return Finish(actor, kVersionRemove, model,
                store_.RemoveModelVersion(model, full, NewChange(actor)));
}

Result<Change> RegistryService::RemoveModel(const audit::Actor& actor, std::string_view model) {
  LLMUX_RETURN_IF_ERROR(ValidateModelName(model));
  return Finish(actor, kModelRemove, model, store_.RemoveRegisteredModel(model, NewChange(actor)));
}

Result<ChangeList> RegistryService::History(const ChangeQuery& query) {
  if (!query.model.empty()) LLMUX_RETURN_IF_ERROR(ValidateModelName(query.model));
  return store_.ListModelChanges(query);
}

Result<Change> RegistryService::Rollback(const audit::Actor& actor, int64_t change_id) {
  if (change_id <= 0) return InvalidArgumentError("change id must be positive").WithField("id");
  LLMUX_ASSIGN_OR_RETURN(Change original, store_.GetModelChange(change_id));
  Change change = NewChange(actor);
  change.rollback_of = change_id;
  if (original.kind == kParametersSet) {
    LLMUX_ASSIGN_OR_RETURN(ModelParameters before, ParseParametersText(original.before));
    return Finish(actor, kParametersSet, original.model,
                  store_.SetModelParameters(original.model, before, std::move(change)));
  }
  if (original.kind == kTagSet || original.kind == kTagRemove) {
    LLMUX_ASSIGN_OR_RETURN(std::optional<std::string> before, ParseTagTargetText(original.before));
    if (!before) {
      return Finish(actor, kTagRemove, original.model,
                    store_.RemoveModelTag(original.model, original.target, std::move(change)));
    }
    auto restored = store_.SetModelTag(original.model, original.target, *before, std::move(change));
    if (!restored.ok() && restored.status().code() == StatusCode::kNotFound) {
      restored = AlreadyExistsError("cannot point tag '" + original.target + "' back at " +
                                    *before + ": " + restored.status().message());
    }
    return Finish(actor, kTagSet, original.model, std::move(restored));
  }
  return InvalidArgumentError("a change of kind " + original.kind +
                              " cannot be rolled back (only parameter and tag changes can)")
      .WithField("id");
}

std::optional<ModelParameters> RegistryService::DefaultsFor(std::string_view requested_model) {
  auto ref = ParseModelRef(requested_model);
  if (!ref.ok()) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(ref->name);
    if (it != cache_.end() && now - it->second.read_at < options_.defaults_ttl) {
      return it->second.parameters;
    }
  }
  auto model = store_.GetRegisteredModel(ref->name);
  if (!model.ok() && model.status().code() != StatusCode::kNotFound) {
    spdlog::warn("model registry: reading the defaults of {}: {}", ref->name,
                 model.status().ToString());
    return std::nullopt;
  }
  std::optional<ModelParameters> parameters;
  if (model.ok()) parameters = std::move(model->parameters);
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= options_.max_cached_models) cache_.clear();
  cache_[ref->name] = CachedDefaults{parameters, now};
  return parameters;
}

Change RegistryService::NewChange(const audit::Actor& actor) const {
  Change c;
  c.time_ms = NowMs();
  c.actor = actor.subject;
  c.actor_name = actor.display;
  return c;
}

Result<std::string> RegistryService::FindDigest(std::string_view model, std::string_view digest) {
  std::string_view hex = digest;
  if (hex.substr(0, 7) == "sha256:") hex.remove_prefix(7);
  bool ok = hex.size() >= kMinDigestPrefix && hex.size() <= 64;
  for (char c : hex) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) {
    return InvalidArgumentError("a digest is 'sha256:' and 12 to 64 lowercase hex digits")
        .WithField("digest");
  }
  LLMUX_ASSIGN_OR_RETURN(Model m, store_.GetRegisteredModel(model));
  LLMUX_ASSIGN_OR_RETURN(auto versions, store_.ListModelVersions(m.name));
  std::string found;
  for (const Version& v : versions) {
    if (std::string_view(v.digest).substr(7, hex.size()) != hex) continue;
    if (!found.empty()) {
      return InvalidArgumentError("digest prefix " + std::string(hex) + " is ambiguous")
          .WithField("digest");
    }
    found = v.digest;
  }
  if (found.empty()) {
    return NotFoundError("model '" + std::string(model) + "' has no version " +
                         std::string(digest));
  }
  return found;
}

Result<Change> RegistryService::Finish(const audit::Actor& actor, std::string_view kind,
                                       std::string_view model, Result<Change> result) {
  {
    std::lock_guard lock(cache_mu_);
    cache_.clear();
  }
  if (result.ok() && result->id == 0) return result;  // nothing changed, nothing to audit
  std::string detail;
  if (result.ok()) {
    detail = result->target;
    if (result->rollback_of != 0) {
      detail += (detail.empty() ? "" : " ") + std::string("rollback of change ") +
                std::to_string(result->rollback_of);
    }
  } else {
    detail = result.status().message();
  }
  Audit(actor, kind, model, detail, result.status());
  return result;
}

void RegistryService::AuditServing(const audit::Actor& actor, std::string_view action,
                                   std::string_view name, std::string_view ref,
                                   const Status& outcome) {
  Append(actor, "models." + std::string(action), "served:" + std::string(name),
         outcome.ok() ? std::string(ref) : std::string(ref) + ": " + outcome.message(), outcome);
}

void RegistryService::Audit(const audit::Actor& actor, std::string_view kind,
                            std::string_view model, std::string_view detail,
                            const Status& outcome) {
  Append(actor, "registry." + std::string(kind), "model:" + std::string(model),
         outcome.ok() ? std::string(detail) : outcome.message(), outcome);
}

void RegistryService::Append(const audit::Actor& actor, std::string action, std::string target,
                             std::string detail, const Status& outcome) {
  audit::Event e;
  e.actor = actor.subject;
  e.action = std::move(action);
  e.target = std::move(target);
  e.source = actor.source;
  e.outcome = outcome.ok() ? "ok" : "failed";
  e.detail = std::move(detail);
  audit::AppendOrWarn(audit_, e);  // a busy log must not fail the change
}

}  // namespace llmux::registry
