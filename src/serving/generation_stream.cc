#include "serving/generation_stream.h"

#include "chat/output_parser.h"

namespace llmux::serving {

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

FinishReason MapFinish(EngineFinishReason r, bool tool_calls) {
  switch (r) {
    case EngineFinishReason::kEndOfGeneration:
    case EngineFinishReason::kStopped:
      return tool_calls ? FinishReason::kToolCalls : FinishReason::kStop;
    case EngineFinishReason::kMaxTokens:
    case EngineFinishReason::kContextFull:
      return FinishReason::kLength;
    case EngineFinishReason::kCancelled:
      return FinishReason::kCancelled;
    case EngineFinishReason::kError:
      return FinishReason::kError;
  }
  return FinishReason::kError;
}

}  // namespace

GenerationStream::GenerationStream(std::string model, const Tokenizer& tokenizer,
                                   ServingMetrics& metrics, std::shared_ptr<Sink> sink,
                                   std::vector<std::string> stop,
                                   std::unique_ptr<chat::ChatOutputParser> parser, bool logprobs)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      metrics_(metrics),
      sink_(std::move(sink)),
      stop_(std::move(stop)),
      parser_(std::move(parser)),
      logprobs_(logprobs),
      arrival_(std::chrono::steady_clock::now()) {}

GenerationStream::~GenerationStream() = default;

void GenerationStream::Refused() {
  metrics_.RequestFinished(model_, "refused", false, 0.0, 0, 0);
}

EngineCallbacks GenerationStream::MakeCallbacks() {
  auto self = shared_from_this();
  EngineCallbacks cb;
  cb.on_start = [self] { self->started_ = true; };
  cb.on_token = [self](const TokenOutput& t) { return self->OnToken(t); };
  cb.on_finish = [self](const EngineFinish& f) { self->OnFinish(f); };
  return cb;
}

void GenerationStream::Emit(Delta& delta, const std::string& text, bool final) {
  if (parser_) {
    chat::ChatDelta parsed = parser_->Feed(text);
    if (final) parsed.Append(parser_->Finish());
    delta.reasoning = std::move(parsed.reasoning);
    delta.content = std::move(parsed.content);
    for (auto& call : parsed.tool_calls) {
      saw_tool_call_ = true;
      delta.tool_calls.push_back(ToolCallDelta{call.index, std::move(call.id), std::move(call.name),
                                               std::move(call.arguments)});
    }
  } else {
    delta.content = text;
  }
  if (delta.empty()) return;
  delta.tokens = std::move(pending_tokens_);
  pending_tokens_.clear();
  sink_->OnDelta(delta);
}

bool GenerationStream::OnToken(const TokenOutput& t) {
  if (t.replayed) {
    // Delivered by the engine that ran this stream before: only the state (stop strings held
    // back, the output parser's place) is rebuilt; what it emits was sent then.
    std::string text = stop_.Push(t.text);
    if (parser_) parser_->Feed(text);
    return !Done();
  }
  const auto now = std::chrono::steady_clock::now();
  if (n_tokens_ == 0) {
    metrics_.FirstToken(model_, Seconds(now - arrival_));
  } else {
    metrics_.InterToken(model_, Seconds(now - last_token_));
  }
  last_token_ = now;
  ++n_tokens_;
  pending_tokens_.push_back(t.id);

  Delta delta;
  if (logprobs_ && !t.eog) {
    TokenLogprob lp;
    lp.token = tokenizer_.TokenToPiece(t.id);
    lp.logprob = t.logprob;
    for (const auto& [id, logprob] : t.top) {
      lp.top.push_back(TopLogprob{tokenizer_.TokenToPiece(id), logprob});
    }
    delta.logprobs.push_back(std::move(lp));
  }
  std::string text = stop_.Push(t.text);
  Emit(delta, text, false);
  return !Done();
}

bool GenerationStream::Done() const {
  return stop_.stopped() || (parser_ && parser_->done_with_tools());
}

void GenerationStream::OnFinish(const EngineFinish& f) {
  Delta delta;
  Emit(delta, stop_.Flush(), true);
  Finish finish;
  finish.reason = MapFinish(f.reason, saw_tool_call_);
  finish.usage.prompt_tokens = f.prompt_tokens;
  finish.usage.completion_tokens = f.completion_tokens;
  finish.usage.cached_tokens = f.cached_tokens;
  finish.error = f.error;
  if (stop_.stopped() && f.reason == EngineFinishReason::kStopped) {
    finish.stop_sequence = stop_.matched();
  }
  metrics_.RequestFinished(model_, FinishReasonName(finish.reason), started_,
                           Seconds(std::chrono::steady_clock::now() - arrival_), f.prompt_tokens,
                           f.completion_tokens);
  sink_->OnFinish(finish);
}

}  // namespace llmux::serving
