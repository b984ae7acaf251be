// `llmux model import DIR --out M.gguf [--type q8_0|q4_0|q4_k_m|bf16|f16|f32]`: converts a
// Hugging Face checkpoint (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)
// into a GGUF, streaming tensor by tensor (engine/convert/hf_import.h).
#include "cli/cmd_import_checkpoint.h"

#include <cstdio>
#include <filesystem>

#include "base/thread_pool.h"
#include "cli/cli_util.h"
#include "cli/hf_checkpoint_reader.h"
#include "cli/progress_bar.h"
#include "engine/convert/hf_import.h"

namespace llmux::cli {

Command AddImportCheckpointCommand(CLI::App& model) {
  auto* sub =
      model.add_subcommand("import", "convert a Hugging Face checkpoint (safetensors) to GGUF");
  struct Opts {
    std::string dir, out, type, name, pre;
    int threads = DefaultThreads();
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("dir", opts->dir,
                  "checkpoint directory (config.json, *.safetensors, tokenizer.json)")
      ->required();
  sub->add_option("--out", opts->out, "output GGUF")->required();
  sub->add_option("--type", opts->type,
                  "q8_0, q4_0, q4_k_m, bf16, f16 or f32 (default: the checkpoint's precision)");
  sub->add_option("--name", opts->name, "general.name (default: the directory's name)");
  sub->add_option("--pre", opts->pre,
                  "tokenizer.ggml.pre (default: qwen2 for Qwen tokenizers, deepseek-v3 for "
                  "DeepSeek-V3, llama-bpe otherwise)");
  sub->add_option("-t,--threads", opts->threads, "threads")->capture_default_str();
  return {sub, [opts] {
            convert::HfImportOptions o;
            if (!opts->type.empty()) {
              o.target = convert::ParseQuantizeTarget(opts->type);
              if (!o.target)
                return ReportError(InvalidArgumentError("unknown --type '" + opts->type + "'"));
            }
            auto ck = ReadHfCheckpoint(opts->dir);
            if (!ck.ok()) return ReportError(ck.status());
            o.name = opts->name.empty()
                         ? std::filesystem::path(opts->dir).lexically_normal().filename().string()
                         : opts->name;
            if (o.name.empty())
              o.name = std::filesystem::path(opts->dir).parent_path().filename().string();
            o.tokenizer_pre = opts->pre;
            ThreadPool pool(opts->threads);
            auto summary = [&] {
              ProgressBar bar("import");
              o.progress = bar.Callback();
              return convert::ImportHfCheckpoint(*ck, opts->out, pool, o);
            }();
            if (!summary.ok()) return ReportError(summary.status());
            std::printf("wrote %s: %s, %lld tensors, %.1f MiB (%s)\n", opts->out.c_str(),
                        summary->arch.c_str(), static_cast<long long>(summary->n_tensors),
                        static_cast<double>(summary->n_bytes) / (1024.0 * 1024.0),
                        convert::QuantizeTargetName(summary->target));
            return 0;
          }};
}

}  // namespace llmux::cli
