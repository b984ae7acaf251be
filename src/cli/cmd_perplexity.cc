// `llmux perplexity --model F.gguf --file T.txt --ctx 512`: llama-perplexity's method;
// prints the running estimate per chunk and the final estimate as the last line.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_loading.h"
#include "engine/runtime/perplexity.h"
#include "engine/tensor/dtype.h"

namespace llmux::cli {

Command AddPerplexityCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("perplexity", "perplexity of a model on a text file");
  struct Opts {
    std::string model, file;
    std::string kv_type = "f16";  // llama-perplexity's default cache type
    int ctx = 512, threads = DefaultThreads();
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("-m,--model", opts->model, "GGUF model file")->required();
  sub->add_option("-f,--file", opts->file, "text file")->required();
  sub->add_option("-c,--ctx", opts->ctx, "tokens per chunk")->capture_default_str();
  sub->add_option("-t,--threads", opts->threads, "threads")->capture_default_str();
  sub->add_option("--kv-type", opts->kv_type, "KV cache type: f16, f32 or q8_0")
      ->capture_default_str();
  return {sub, [opts] {
            std::ifstream in(opts->file, std::ios::binary);
            if (!in) return ReportError(NotFoundError("cannot open text file '" + opts->file + "'"));
            std::stringstream text;
            text << in.rdbuf();
            if (opts->ctx < 4) return ReportError(InvalidArgumentError("--ctx must be at least 4"));
            const auto kv_type = ParseDType(opts->kv_type);
            if (!kv_type ||
                (*kv_type != DType::kF16 && *kv_type != DType::kF32 && *kv_type != DType::kQ8_0)) {
              return ReportError(
                  InvalidArgumentError("--kv-type must be f16, f32 or q8_0, not " + opts->kv_type));
            }
            auto loaded = LoadModelFile(opts->model, opts->threads);
            if (!loaded.ok()) return ReportError(loaded.status());
            auto result = ComputePerplexity(*loaded->model, *loaded->tokenizer, text.str(), opts->ctx,
                                            [](int chunk, double ppl) {
                                              std::printf("[%d]%.4f ", chunk + 1, ppl);
                                              std::fflush(stdout);
                                            },
                                            *kv_type);
            if (!result.ok()) {
              std::printf("\n");
              return ReportError(result.status());
            }
            std::printf("\n%d tokens, %d chunks of %d, %lld scored, %.2f s\n", result->n_tokens,
                        result->n_chunks, result->n_ctx, static_cast<long long>(result->n_scored),
                        result->seconds);
            std::printf("Final estimate: PPL = %.4f +/- %.5f\n", result->ppl, result->ppl_error);
            return 0;
          }};
}

}  // namespace llmux::cli
