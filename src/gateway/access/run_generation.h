// The one loop that runs a generation for an HTTP front end: track and submit it, cancel it
// when the client goes away, then answer from the queue, whole or streamed. Each front end
// gives it its wire format (a Reply, below); OpenAI (chat, completions, responses), Anthropic
// and Ollama share it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "gateway/access/access_gate.h"
#include "gateway/access/generation_queue.h"
#include "net/http/await_callback.h"
#include "net/http/response_writer.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// Where one generation's events go and what the call records: `sink` fills `queue` (a
// QueueSink, or one that also notes times); `model` and `prompt` go to CallAccess::Track.
struct GenerationRun {
  std::shared_ptr<GenerationQueue> queue;
  std::shared_ptr<serving::Sink> sink;
  std::string model;
  std::string prompt;
};

// A Reply is one generation's answer in a front end's wire format:
//   bool Stream() const;                            streamed, or one whole answer
//   http::Response ErrorResponse(const Status&);    a refusal, or a failure of a whole answer
//   void Add(const serving::Delta&);                whole: takes a piece
//   std::string Body(const serving::Finish&);       whole: the answer (a non-error finish)
//   std::string BodyType() const;                   whole: its content type
//   std::string StreamType() const;                 streamed: content type
//   http::Headers StreamHeaders() const;            streamed: extra headers
//   std::string Start();                            streamed: the opening events ("": none)
//   std::string Event(const serving::Delta&);       streamed: a piece's events ("": none)
//   std::string End(const serving::Finish&);        streamed: the closing events, or the error's
// `start(sink, done)` submits to the service (SubmitChat, SubmitComplete) without holding this
// io thread.
template <typename Reply, typename StartFn>
boost::asio::awaitable<void> RunGeneration(http::ResponseWriter& w, CallAccess& access,
                                           StartFn start, GenerationRun run, Reply& reply) {
  using Submitted = Result<std::shared_ptr<serving::RequestHandle>>;
  std::shared_ptr<TrackedSink> tracked =
      access.Track(std::move(run.sink), run.model, std::move(run.prompt));
  std::shared_ptr<serving::Sink> sink = tracked;
  std::optional<Submitted> handle;
  handle.emplace(
      co_await http::AwaitCallback<Submitted>([&start, &sink](std::function<void(Submitted)> done) {
        start(std::move(sink), std::move(done));
      }));
  if (!handle->ok()) {
    tracked->Refuse(handle->status());
    http::Response refusal = reply.ErrorResponse(handle->status());
    co_await w.Send(std::move(refusal));
    co_return;
  }
  tracked.reset();  // the engine holds it (and the call's admission) until the finish
  std::shared_ptr<serving::RequestHandle> request = **handle;
  w.OnDisconnect([request] { request->Cancel(); });
  GenerationQueue& queue = *run.queue;

  if (!reply.Stream()) {
    while (std::optional<GenerationEvent> ev = co_await queue.Pop()) {
      if (auto* d = std::get_if<serving::Delta>(&*ev)) {
        reply.Add(*d);
        continue;
      }
      const auto& finish = std::get<serving::Finish>(*ev);
      if (finish.reason == serving::FinishReason::kError) {
        http::Response failure = reply.ErrorResponse(finish.error);
        co_await w.Send(std::move(failure));
        co_return;
      }
      std::string body = reply.Body(finish);
      co_await w.Send(200, reply.BodyType(), std::move(body));
      co_return;
    }
    request->Cancel();  // the wait was cancelled (shutdown)
    co_return;
  }

  if (!co_await w.StartStream(200, reply.StreamType(), reply.StreamHeaders())) {
    request->Cancel();
    co_return;
  }
  // Every awaited write takes a named string: GCC 12 mishandles temporaries that live across
  // co_await (it may destroy them twice).
  std::string event = reply.Start();
  bool ok = true;
  if (!event.empty()) ok = co_await w.Write(event);
  while (ok) {
    std::optional<GenerationEvent> ev = co_await queue.Pop();
    if (!ev) break;
    if (auto* d = std::get_if<serving::Delta>(&*ev)) {
      event = reply.Event(*d);
      if (!event.empty()) ok = co_await w.Write(event);
      continue;
    }
    event = reply.End(std::get<serving::Finish>(*ev));
    co_await w.Write(event);
    co_await w.EndStream();
    co_return;
  }
  request->Cancel();  // the client went away or the wait was cancelled
}

// The headers of a server-sent event stream (OpenAI, Anthropic).
inline http::Headers SseHeaders() {
  return http::Headers{{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
}

}  // namespace llmux::gateway
