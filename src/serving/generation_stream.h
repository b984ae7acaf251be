// Turns one request's engine tokens into protocol-neutral deltas: stop sequences are cut
// (never emitted), chat output is split into reasoning, content and tool calls, logprobs
// ride along, and metrics are recorded. Lives from Submit until the engine's on_finish.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "serving/inference_service.h"
#include "serving/serving_metrics.h"
#include "serving/stop_matcher.h"

namespace llmux::chat {
class ChatOutputParser;
}

namespace llmux::serving {

class GenerationStream : public std::enable_shared_from_this<GenerationStream> {
 public:
  // parser: null for plain completions (all text is content).
  GenerationStream(std::string model, const Tokenizer& tokenizer, ServingMetrics& metrics,
                   std::shared_ptr<Sink> sink, std::vector<std::string> stop,
                   std::unique_ptr<chat::ChatOutputParser> parser, bool logprobs);
  ~GenerationStream();

  // Callbacks for Engine::Submit; they keep this object alive until on_finish.
  EngineCallbacks MakeCallbacks();
  // Called if Submit refused the request (counted as finished with reason "refused").
  void Refused();

 private:
  bool OnToken(const TokenOutput& token);
  void OnFinish(const EngineFinish& finish);
  // A stop sequence matched, or the parser took all the tool calls the request allows.
  bool Done() const;
  void Emit(Delta& delta, const std::string& text, bool final);

  std::string model_;
  const Tokenizer& tokenizer_;
  ServingMetrics& metrics_;
  std::shared_ptr<Sink> sink_;
  StopMatcher stop_;
  std::unique_ptr<chat::ChatOutputParser> parser_;
  bool logprobs_ = false;
  bool started_ = false;
  bool saw_tool_call_ = false;
  int n_tokens_ = 0;
  std::vector<int32_t> pending_tokens_;  // generated since the last delta went out
  std::chrono::steady_clock::time_point arrival_;
  std::chrono::steady_clock::time_point last_token_;
};

}  // namespace llmux::serving
