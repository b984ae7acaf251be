// `llmux run --model F.gguf --prompt "..."`: generates text and streams it to stdout.
#include <cstdio>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_loading.h"
#include "engine/runtime/generator.h"

namespace llmux::cli {

// Sampling flags shared with other commands that generate text.
void AddSamplingOptions(CLI::App* sub, SamplerParams& p) {
  sub->add_option("--temperature,--temp", p.temperature, "sampling temperature; 0 = greedy")
      ->capture_default_str();
  sub->add_option("--top-k", p.top_k, "keep the k most likely tokens; 0 = off")->capture_default_str();
  sub->add_option("--top-p", p.top_p, "nucleus sampling threshold; 1 = off")->capture_default_str();
  sub->add_option("--min-p", p.min_p, "drop tokens below min_p * p(best); 0 = off")
      ->capture_default_str();
  sub->add_option("--repeat-penalty", p.repeat_penalty, "penalty for repeated tokens; 1 = off")
      ->capture_default_str();
  sub->add_option("--presence-penalty", p.presence_penalty, "OpenAI-style presence penalty")
      ->capture_default_str();
  sub->add_option("--frequency-penalty", p.frequency_penalty, "OpenAI-style frequency penalty")
      ->capture_default_str();
  sub->add_option("--repeat-last-n", p.penalty_last_n, "tokens the penalties look back; -1 = all")
      ->capture_default_str();
  sub->add_option("--seed", p.seed, "random seed (default: random)");
}

Command AddRunCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "generate text from a prompt");
  struct Opts {
    std::string model, prompt;
    int n = 128, threads = DefaultThreads(), ctx = 0;
    bool ignore_eos = false, timings = false;
    SamplerParams sampling;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("-m,--model", opts->model, "GGUF model file")->required();
  sub->add_option("-p,--prompt", opts->prompt, "prompt text")->required();
  sub->add_option("-n,--n-predict", opts->n, "tokens to generate")->capture_default_str();
  sub->add_option("-t,--threads", opts->threads, "threads")->capture_default_str();
  sub->add_option("-c,--ctx", opts->ctx, "context size (default: prompt + n)");
  sub->add_flag("--ignore-eos", opts->ignore_eos, "keep generating past end-of-generation tokens");
  sub->add_flag("--timings", opts->timings, "print prefill and decode speed to stderr");
  AddSamplingOptions(sub, opts->sampling);
  return {sub, [opts] {
            auto loaded = LoadModelFile(opts->model, opts->threads);
            if (!loaded.ok()) return ReportError(loaded.status());
            GenerateOptions go;
            go.max_tokens = opts->n;
            go.ignore_eog = opts->ignore_eos;
            go.n_ctx = opts->ctx;
            Generator gen(*loaded->model, *loaded->tokenizer);
            std::fputs(opts->prompt.c_str(), stdout);
            std::fflush(stdout);
            auto result = gen.Generate(opts->prompt, opts->sampling, go, [](std::string_view text) {
              std::fwrite(text.data(), 1, text.size(), stdout);
              std::fflush(stdout);
              return true;
            });
            std::fputc('\n', stdout);
            if (!result.ok()) return ReportError(result.status());
            if (opts->timings) {
              std::fprintf(stderr, "prompt: %zu tokens, %.1f tok/s | generated: %zu tokens, %.1f tok/s | stop: %s\n",
                           result->prompt_ids.size(), result->prefill_tokens_per_second(),
                           result->generated_ids.size(), result->decode_tokens_per_second(),
                           StopReasonName(result->stop));
            }
            return 0;
          }};
}

}  // namespace llmux::cli
