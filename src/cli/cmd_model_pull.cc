// `llmux model pull URL|PATH [--models-dir D] [--sha256 HEX] [--name NAME]`: downloads (with
// resume) or copies a model file into <models-dir>/blobs/sha256-<hex>, checking its digest,
// with a progress bar on a terminal. Prints the blob's path and digest.
#include "cli/cmd_model_pull.h"

#include <cstdio>

#include "cli/cli_util.h"
#include "cli/progress_bar.h"
#include "net/pull/model_puller.h"

namespace llmux::cli {

Command AddModelPullCommand(CLI::App& model) {
  auto* pull = model.add_subcommand(
      "pull", "download (resumably) or copy a model file into the models directory");
  struct Opts {
    std::string source, models_dir = "./llmux-data/models", sha256, name, ca_file;
  };
  auto o = std::make_shared<Opts>();
  pull->add_option("source", o->source, "an http(s) URL or a local file")->required();
  pull->add_option("--models-dir", o->models_dir,
                   "where blobs/ is (the serve default: <data-dir>/models)")
      ->capture_default_str();
  pull->add_option("--sha256", o->sha256, "the expected SHA-256 (64 hex digits)");
  pull->add_option("--name", o->name, "the name to register the model under");
  pull->add_option("--ca-file", o->ca_file,
                   "https: trust these certificates instead of the system's");
  auto run = [o] {
    pull::PullerOptions options;
    options.models_dir = o->models_dir;
    options.any_local_path = true;  // the operator's own files
    options.download.ca_file = o->ca_file;
    pull::ModelPuller puller(options);
    pull::PullRequest request;
    const bool url = o->source.find("://") != std::string::npos;  // other schemes are refused
    (url ? request.url : request.path) = o->source;
    request.sha256 = o->sha256;
    request.name = o->name;
    auto job = puller.Start(request, "cli");
    if (!job.ok()) return ReportError(job.status());
    Result<pull::PulledModel> done = [&] {
      ProgressBar bar("pull");
      return (*job)->Run([&](const pull::PullProgress& p) {
        if (p.status == "downloading") {
          convert::ConvertProgress c;
          c.bytes_done = p.completed;
          c.bytes_total = p.total;
          bar.Update(c);
        }
        return true;
      });
    }();
    job->reset();
    if (!done.ok()) return ReportError(done.status());
    std::printf("%s %s (%llu bytes)\n", done->digest.c_str(), done->path.c_str(),
                static_cast<unsigned long long>(done->size));
    return 0;
  };
  return {pull, run};
}

}  // namespace llmux::cli
