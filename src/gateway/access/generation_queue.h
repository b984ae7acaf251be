// What a front end's handler coroutine needs to run one generation: the queue that carries the
// engine thread's callbacks to it, the sink that fills the queue, and the prompt as the
// request log keeps it. Shared by the HTTP front ends (OpenAI, Anthropic, Ollama), whose
// answers RunGeneration (run_generation.h) writes from the queue.
#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "chat/chat_types.h"
#include "net/http/async_queue.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

using GenerationEvent = std::variant<serving::Delta, serving::Finish>;
using GenerationQueue = http::AsyncQueue<GenerationEvent>;

// Carries the engine thread's callbacks to the handler coroutine. (CallAccess::Track wraps it:
// the tokens are charged and the call recorded when the generation ends, even if the client
// has gone away by then.)
class QueueSink : public serving::Sink {
 public:
  explicit QueueSink(std::shared_ptr<GenerationQueue> queue) : queue_(std::move(queue)) {}
  void OnDelta(const serving::Delta& delta) override { queue_->Push(delta); }
  void OnFinish(const serving::Finish& finish) override {
    queue_->Push(finish);
    queue_->Close();
  }

 private:
  std::shared_ptr<GenerationQueue> queue_;
};

// The prompt as the request log keeps it (only when it keeps prompts): "role: content" lines.
inline std::string PromptText(const std::vector<chat::Message>& messages) {
  std::string text;
  for (const chat::Message& m : messages) text += m.role + ": " + m.content + "\n";
  return text;
}

}  // namespace llmux::gateway
