// One served model: its file, tokenizer, chat template and the engine thread that runs it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/caller_shares.h"
#include "base/status.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "serving/inference_service.h"
#include "serving/model_lifecycle.h"

namespace llmux::chat {
class ChatTemplate;
}

namespace llmux::serving {

struct ModelSpec {
  std::string name;  // served name; empty: from general.name, else the file name
  std::string path;
  // How long it stays loaded without requests; unset: ModelLifecycleOptions'
  // default_keep_alive_s; negative: until unloaded. Models given at start stay loaded.
  std::optional<double> keep_alive_s = std::nullopt;
  // Jinja source used instead of the file's tokenizer.chat_template; unset: the file's.
  std::optional<std::string> chat_template = std::nullopt;
};

struct ModelHostOptions {
  int n_threads = 0;  // 0: hardware concurrency
  // Context, queue, continuous batching and the paged KV cache of each model's engine.
  EngineOptions engine;
  // Requests one caller may have waiting (queued, not yet started) for the model: its share
  // of engine.max_waiting, so one caller cannot fill the queue. 0: no share.
  int max_waiting_per_caller = 64;
  // Keep-alive and the loaded-model limit (LocalInferenceService).
  ModelLifecycleOptions lifecycle;
};

class ModelHost {
 public:
  static Result<std::unique_ptr<ModelHost>> Load(const ModelSpec& spec,
                                                 const ModelHostOptions& options);
  ~ModelHost();

  const std::string& name() const { return info_.id; }
  const ModelInfo& info() const { return info_; }
  Engine& engine() { return *engine_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const chat::ChatTemplate& chat_template() const { return *chat_template_; }
  const gguf::GgufFile& file() const { return *file_; }
  // Token tables for constrained decoding, built once at load.
  const std::shared_ptr<const ConstraintVocab>& constraint_vocab() const { return constraint_vocab_; }
  // Each caller's requests waiting in the engine's queue.
  CallerShares& waiting_shares() { return waiting_shares_; }
  // Whether this copy's engine publishes the model's gauges. A copy draining after a hot update
  // stops: the gauges under the model's name are the serving copy's alone.
  bool publishes_gauges() const { return publishes_gauges_.load(std::memory_order_relaxed); }
  void StopPublishingGauges() { publishes_gauges_.store(false, std::memory_order_relaxed); }

 private:
  ModelHost() = default;

  ModelInfo info_;
  std::shared_ptr<const gguf::GgufFile> file_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<chat::ChatTemplate> chat_template_;
  std::shared_ptr<const ConstraintVocab> constraint_vocab_;
  std::unique_ptr<Engine> engine_;
  CallerShares waiting_shares_{0};
  std::atomic<bool> publishes_gauges_{true};
};

// The name a model is served under when none is given: general.name made URL-friendly
// (lower case, spaces to dashes), else the file's base name without ".gguf".
std::string DefaultModelName(const gguf::GgufFile& file, const std::string& path);

}  // namespace llmux::serving
