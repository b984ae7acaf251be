// `llmux bench --model F.gguf -p 512 -n 128 -t 2 -r 5`: prefill and decode speed measured
// the way llama-bench does (pp: one batch of p tokens into an empty cache; tg: n single-token
// steps from an empty cache), mean ± sd over r repetitions after one warm-up run. Decode also
// shows the weight bytes it reads per second against this machine's memory read bandwidth,
// measured on the spot with the same thread count: decode is bound by that ceiling.
// --isa runs the kernels of a lesser instruction set than the CPU's best (avx2 on an AVX-512
// machine), to compare that path with another engine built for it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "base/huge_pages.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_loading.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/kv_cache.h"

namespace llmux::cli {

namespace {

struct Stats {
  double mean = 0, sd = 0;
};

Stats MeanSd(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Seconds for one prefill of `tokens` into a fresh cache.
Result<double> TimePrefill(Model& model, const std::vector<int32_t>& tokens, std::vector<float>& logits) {
  LLMUX_ASSIGN_OR_RETURN(auto cache, model.NewCache(static_cast<int>(tokens.size())));
  auto t0 = std::chrono::steady_clock::now();
  LLMUX_RETURN_IF_ERROR(model.Forward(*cache, tokens, 0, logits.data(), false));
  return Seconds(t0);
}

// Seconds for n single-token decode steps from an empty cache.
Result<double> TimeDecode(Model& model, int n, int32_t token, std::vector<float>& logits) {
  LLMUX_ASSIGN_OR_RETURN(auto cache, model.NewCache(n));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    LLMUX_RETURN_IF_ERROR(model.Forward(*cache, std::span<const int32_t>(&token, 1), i, logits.data(), false));
  }
  return Seconds(t0);
}

// GB/s of reading a buffer far larger than the caches with n threads, best of 3 passes. The
// buffer is on huge pages where the kernel offers them, as the CPU backend's weights are.
double MeasureReadBandwidth(int n_threads) {
  const size_t bytes = size_t{512} << 20, words = bytes / sizeof(uint64_t);
  const HugePageBuffer map(bytes);
  if (map.data() == nullptr) return 0;
  auto* buf = static_cast<uint64_t*>(map.data());
  std::fill_n(buf, words, 1);  // written once, so every page is mapped
  std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < n_threads; ++i) {
      threads.emplace_back([&, i] {
        const size_t begin = words * i / n_threads, end = words * (i + 1) / n_threads;
        uint64_t a = 0, b = 0, c = 0, d = 0;
        for (size_t j = begin; j + 4 <= end; j += 4) {
          a += buf[j];
          b += buf[j + 1];
          c += buf[j + 2];
          d += buf[j + 3];
        }
        sums[i] = a + b + c + d;
      });
    }
    for (auto& t : threads) t.join();
    best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / Seconds(t0) / 1e9);
  }
  // Using the sums keeps the reads from being optimised away.
  static volatile uint64_t sink = 0;
  for (uint64_t x : sums) sink = sink + x;
  return best;
}

}  // namespace

Command AddBenchCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("bench", "measure prefill and decode speed");
  struct Opts {
    std::string model;
    int p = 512, n = 128, threads = DefaultThreads(), reps = 5;
    std::string isa = "best";
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("-m,--model", opts->model, "GGUF model file")->required();
  sub->add_option("-p,--n-prompt", opts->p, "prompt tokens for the prefill test; 0 = skip")->capture_default_str();
  sub->add_option("-n,--n-gen", opts->n, "tokens for the decode test; 0 = skip")->capture_default_str();
  sub->add_option("-t,--threads", opts->threads, "threads")->capture_default_str();
  sub->add_option("-r,--repetitions", opts->reps, "repetitions of each test")->capture_default_str();
  sub->add_option("--isa", opts->isa,
                  "CPU instruction set of the kernels: best, avx512, avx2 or scalar (to compare "
                  "the paths on one machine)")
      ->capture_default_str();
  return {sub, [opts] {
            if (opts->reps < 1 || opts->p < 0 || opts->n < 0) {
              return ReportError(InvalidArgumentError("-p and -n must be >= 0 and -r >= 1"));
            }
            if (Status isa = UseCpuInstructionSet(opts->isa); !isa.ok()) return ReportError(isa);
            auto loaded = LoadModelFile(opts->model, opts->threads);
            if (!loaded.ok()) return ReportError(loaded.status());
            Model& model = *loaded->model;
            const ModelConfig& cfg = model.config();
            std::vector<float> logits(static_cast<size_t>(cfg.n_vocab));
            int64_t params = 0;
            for (const auto& t : loaded->file->tensors()) params += t.n_elements();
            const double weight_gb = static_cast<double>(model.WeightBytes()) / 1e9;

            std::printf("| model | size | params | threads | test | t/s | GB/s |\n");
            std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            auto row = [&](const char* test, int n, const std::vector<double>& secs, bool show_gbs) {
              std::vector<double> rates;
              for (double s : secs) rates.push_back(n / s);
              Stats st = MeanSd(rates);
              std::string gbs = show_gbs ? std::to_string(st.mean * weight_gb).substr(0, 6) : "";
              std::printf("| %s | %.2f GiB | %.2f B | %d | %s%d | %.2f ± %.2f | %s |\n", cfg.arch.c_str(),
                          static_cast<double>(loaded->file->file_size()) / (1ull << 30),
                          static_cast<double>(params) / 1e9, opts->threads, test, n, st.mean, st.sd,
                          gbs.c_str());
              std::fflush(stdout);
            };

            if (opts->p > 0) {
              std::mt19937 rng(1234);
              std::vector<int32_t> tokens(static_cast<size_t>(opts->p));
              for (auto& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(cfg.n_vocab));
              std::vector<double> secs;
              for (int r = 0; r <= opts->reps; ++r) {  // r == 0 is the warm-up
                auto s = TimePrefill(model, tokens, logits);
                if (!s.ok()) return ReportError(s.status());
                if (r > 0) secs.push_back(*s);
              }
              row("pp", opts->p, secs, false);
            }
            if (opts->n > 0) {
              int32_t token = loaded->tokenizer->bos_id() >= 0 ? loaded->tokenizer->bos_id() : 0;
              std::vector<double> secs;
              for (int r = 0; r <= opts->reps; ++r) {
                auto s = TimeDecode(model, opts->n, token, logits);
                if (!s.ok()) return ReportError(s.status());
                if (r > 0) secs.push_back(*s);
              }
              row("tg", opts->n, secs, true);
              std::vector<double> rates;
              for (double sec : secs) rates.push_back(opts->n / sec);
              const double decode_gbs = MeanSd(rates).mean * weight_gb;
              const double bandwidth = MeasureReadBandwidth(opts->threads);
              std::printf("\nmemory read bandwidth, %d threads: %.1f GB/s; decode reads weights at "
                          "%.0f%% of it\n",
                          opts->threads, bandwidth, 100.0 * decode_gbs / bandwidth);
            }
            std::printf("CPU kernels: %s\n", std::string(CpuInstructionSet()).c_str());
            return 0;
          }};
}

}  // namespace llmux::cli
