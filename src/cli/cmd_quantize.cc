// `llmux quantize IN.gguf OUT.gguf TYPE`: re-encodes a model's weights like llama-quantize.
#include <cstdio>

#include "base/thread_pool.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/progress_bar.h"
#include "engine/convert/quantize.h"
#include "engine/gguf/gguf_reader.h"

namespace llmux::cli {

Command AddQuantizeCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("quantize", "convert a model's weights to another type");
  struct Opts {
    std::string in, out, type;
    int threads = DefaultThreads();
    bool pure = false;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("input", opts->in, "source GGUF")->required();
  sub->add_option("output", opts->out, "destination GGUF")->required();
  sub->add_option("type", opts->type, "f32, f16, bf16, q8_0, q4_0 or q4_k_m")->required();
  sub->add_option("-t,--threads", opts->threads, "threads")->capture_default_str();
  sub->add_flag("--pure", opts->pure,
                "give every matrix the target type (no per-tensor refinements)");
  return {sub, [opts] {
            auto target = convert::ParseQuantizeTarget(opts->type);
            if (!target)
              return ReportError(InvalidArgumentError("unknown type '" + opts->type + "'"));
            auto file = gguf::GgufFile::Open(opts->in);
            if (!file.ok()) return ReportError(file.status());
            ThreadPool pool(opts->threads);
            convert::QuantizeOptions qo;
            qo.pure = opts->pure;
            Status st = [&] {
              ProgressBar bar("quantize");
              return convert::QuantizeModel(**file, opts->out, *target, pool, qo, bar.Callback());
            }();
            if (!st.ok()) return ReportError(st);
            std::printf("wrote %s (%s)\n", opts->out.c_str(), convert::QuantizeTargetName(*target));
            return 0;
          }};
}

}  // namespace llmux::cli
