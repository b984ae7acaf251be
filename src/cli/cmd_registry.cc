#include "cli/cmd_registry.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_util.h"
#include "cli/store_flags.h"
#include "services/registry/registry_codec.h"
#include "services/registry/registry_service.h"

namespace llmux::cli {

namespace {

namespace reg = registry;

std::string ShortDigest(const std::string& digest) { return digest.substr(7, 12); }

std::string Size(int64_t bytes) {
  char buf[32];
  if (bytes >= (int64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  }
  return buf;
}

void PrintChange(const reg::Change& c) {
  if (c.id == 0) {
    std::printf("unchanged: %s %s already as asked\n", c.model.c_str(), c.target.c_str());
    return;
  }
  std::printf("change %lld: %s %s%s%s\n  before: %s\n  after:  %s\n", static_cast<long long>(c.id),
              c.kind.c_str(), c.model.c_str(), c.target.empty() ? "" : " ", c.target.c_str(),
              c.before.c_str(), c.after.c_str());
}

// Opens the store and runs `body` with the registry over it; prints the error and returns 1
// on failure.
template <typename F>
int WithRegistry(const StoreOptions& o, F body) {
  auto store = OpenCliStore(o);
  if (!store.ok()) return ReportError(store.status());
  reg::RegistryService service(**store, **store);
  const std::string subject = CliSubject();
  audit::Actor actor{subject, subject.substr(4), "cli"};
  Status s = body(service, actor);
  return s.ok() ? 0 : ReportError(s);
}

}  // namespace

std::vector<Command> AddRegistryCommands(CLI::App& model) {
  auto o = std::make_shared<StoreOptions>();
  std::vector<Command> out;
  auto add = [&](CLI::App* cmd, std::function<int()> run) {
    AddStoreOptions(cmd, *o);
    out.push_back({cmd, std::move(run)});
  };

  auto* list = model.add_subcommand("list", "list registered models, their tags and versions");
  add(list, [o] {
    return WithRegistry(*o, [](reg::RegistryService& r, const audit::Actor&) -> Status {
      LLMUX_ASSIGN_OR_RETURN(auto models, r.List());
      std::printf("%-40s %-14s %-10s %s\n", "NAME", "ID", "SIZE", "ARCH");
      for (const auto& d : models) {
        for (const auto& t : d.tags) {
          const reg::Version* v = nullptr;
          for (const auto& candidate : d.versions) {
            if (candidate.digest == t.digest) v = &candidate;
          }
          std::printf("%-40s %-14s %-10s %s\n", (d.model.name + ":" + t.name).c_str(),
                      ShortDigest(t.digest).c_str(), v ? Size(v->size_bytes).c_str() : "-",
                      v ? v->architecture.c_str() : "-");
        }
        if (d.tags.empty()) {
          std::printf("%-40s %-14s %-10s %zu untagged version(s)\n", d.model.name.c_str(), "-", "-",
                      d.versions.size());
        }
      }
      return Status::Ok();
    });
  });

  auto show_name = std::make_shared<std::string>();
  auto* show = model.add_subcommand("show", "a registered model: parameters, versions, tags");
  show->add_option("name", *show_name, "model name")->required();
  add(show, [o, show_name] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor&) -> Status {
      LLMUX_ASSIGN_OR_RETURN(auto ref, reg::ParseModelRef(*show_name));
      LLMUX_ASSIGN_OR_RETURN(reg::ModelDetail d, r.Show(ref.name));
      std::printf("model %s\nparameters %s\nversions\n", d.model.name.c_str(),
                  reg::ParametersToJson(d.model.parameters).dump().c_str());
      for (const auto& v : d.versions) {
        std::printf("  %s  %s  %s  %s  by %s\n", v.digest.c_str(), Size(v.size_bytes).c_str(),
                    v.architecture.c_str(), v.path.c_str(), v.created_by.c_str());
      }
      std::printf("tags\n");
      for (const auto& t : d.tags) std::printf("  %-20s %s\n", t.name.c_str(), t.digest.c_str());
      return Status::Ok();
    });
  });

  struct RegisterArgs {
    std::string path, name, tag = "latest";
    bool no_tag = false;
  };
  auto reg_args = std::make_shared<RegisterArgs>();
  auto* register_cmd = model.add_subcommand(
      "register", "add a local GGUF file as a version of a model (its sha256 names it)");
  register_cmd->add_option("path", reg_args->path, "GGUF file")->required();
  register_cmd->add_option("--name", reg_args->name, "model name")->required();
  register_cmd->add_option("--tag", reg_args->tag, "tag pointed at the version")
      ->capture_default_str();
  register_cmd->add_flag("--no-tag", reg_args->no_tag, "tag nothing");
  add(register_cmd, [o, reg_args] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor& actor) -> Status {
      reg::RegisterRequest req{reg_args->path, reg_args->name, reg_args->tag};
      if (reg_args->no_tag) req.tag.reset();
      LLMUX_ASSIGN_OR_RETURN(reg::Registration done, r.Register(actor, req));
      std::printf("%s %s %s (%s, %s)\n",
                  done.created ? "registered" : "already registered:", reg_args->name.c_str(),
                  done.version.digest.c_str(), Size(done.version.size_bytes).c_str(),
                  done.version.architecture.c_str());
      if (done.tag_change && done.tag_change->id != 0) {
        std::printf("tagged %s:%s\n", reg_args->name.c_str(), done.tag_change->target.c_str());
      }
      return Status::Ok();
    });
  });

  auto tag_args = std::make_shared<std::pair<std::string, std::string>>();
  auto* tag = model.add_subcommand(
      "tag", "point name:tag at a version: a digest (or its first 12+ hex digits) or another tag");
  tag->add_option("ref", tag_args->first, "name[:tag] to set (no tag: latest)")->required();
  tag->add_option("target", tag_args->second, "digest, or name:tag of the same model")->required();
  add(tag, [o, tag_args] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor& actor) -> Status {
      LLMUX_ASSIGN_OR_RETURN(auto ref, reg::ParseModelRef(tag_args->first));
      std::string digest = tag_args->second;
      if (digest.find(':') != std::string::npos && digest.rfind("sha256:", 0) != 0) {
        LLMUX_ASSIGN_OR_RETURN(reg::Version v, r.Resolve(digest));
        digest = v.digest;
      }
      LLMUX_ASSIGN_OR_RETURN(reg::Change c, r.SetTag(actor, ref.name, ref.tag, digest));
      PrintChange(c);
      return Status::Ok();
    });
  });

  struct RmArgs {
    std::string ref, version;
    bool all = false;
  };
  auto rm_args = std::make_shared<RmArgs>();
  auto* rm = model.add_subcommand(
      "rm", "remove a tag (name[:tag], no tag: latest), a version (--version) or a model (--all)");
  rm->add_option("ref", rm_args->ref, "name[:tag]")->required();
  rm->add_option("--version", rm_args->version, "remove this (untagged) version instead");
  rm->add_flag("--all", rm_args->all, "remove the model: all its versions, tags and parameters");
  add(rm, [o, rm_args] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor& actor) -> Status {
      LLMUX_ASSIGN_OR_RETURN(auto ref, reg::ParseModelRef(rm_args->ref));
      Result<reg::Change> c = rm_args->all ? r.RemoveModel(actor, ref.name)
                              : !rm_args->version.empty()
                                  ? r.RemoveVersion(actor, ref.name, rm_args->version)
                                  : r.RemoveTag(actor, ref.name, ref.tag);
      LLMUX_RETURN_IF_ERROR(c.status());
      PrintChange(*c);
      return Status::Ok();
    });
  });

  auto params_args = std::make_shared<std::pair<std::string, std::string>>();
  auto* params = model.add_subcommand("params", "show or replace a model's default parameters");
  params->add_option("name", params_args->first, "model name")->required();
  params->add_option(
      "--set", params_args->second,
      R"(a JSON object that replaces them, e.g. '{"temperature":0.2,"max_tokens":256}')");
  add(params, [o, params_args] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor& actor) -> Status {
      LLMUX_ASSIGN_OR_RETURN(auto ref, reg::ParseModelRef(params_args->first));
      if (params_args->second.empty()) {
        LLMUX_ASSIGN_OR_RETURN(reg::ModelDetail d, r.Show(ref.name));
        std::printf("%s\n", reg::ParametersToJson(d.model.parameters).dump(2).c_str());
        return Status::Ok();
      }
      nlohmann::json j = nlohmann::json::parse(params_args->second, nullptr, false);
      if (j.is_discarded()) return InvalidArgumentError("--set is not valid JSON");
      LLMUX_ASSIGN_OR_RETURN(reg::ModelParameters p, reg::ParametersFromJson(j));
      LLMUX_ASSIGN_OR_RETURN(reg::Change c, r.SetParameters(actor, ref.name, p));
      PrintChange(c);
      return Status::Ok();
    });
  });

  struct HistoryArgs {
    std::string name;
    int limit = 20;
  };
  auto history_args = std::make_shared<HistoryArgs>();
  auto* history = model.add_subcommand("history", "recorded registry changes, newest first");
  history->add_option("name", history_args->name, "only this model");
  history->add_option("--limit", history_args->limit, "at most this many")->capture_default_str();
  add(history, [o, history_args] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor&) -> Status {
      LLMUX_ASSIGN_OR_RETURN(reg::ChangeList list,
                             r.History({history_args->name, 0, history_args->limit}));
      for (const auto& c : list.items) PrintChange(c);
      return Status::Ok();
    });
  });

  auto rollback_id = std::make_shared<int64_t>(0);
  auto* rollback =
      model.add_subcommand("rollback", "undo a parameter or tag change (recorded as a new change)");
  rollback->add_option("id", *rollback_id, "change id (llmux model history)")->required();
  add(rollback, [o, rollback_id] {
    return WithRegistry(*o, [&](reg::RegistryService& r, const audit::Actor& actor) -> Status {
      LLMUX_ASSIGN_OR_RETURN(reg::Change c, r.Rollback(actor, *rollback_id));
      PrintChange(c);
      return Status::Ok();
    });
  });
  return out;
}

}  // namespace llmux::cli
