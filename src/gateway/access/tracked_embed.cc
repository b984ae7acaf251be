#include "gateway/access/tracked_embed.h"

#include "gateway/access/tracked_sink.h"
#include "net/http/await_callback.h"

namespace llmux::gateway {

boost::asio::awaitable<Result<serving::EmbedResult>> TrackedEmbed(
    CallAccess& access, serving::InferenceService& service, serving::EmbedRequest request) {
  request.caller_share = access.share();
  std::shared_ptr<TrackedSink> tracked = access.Track(nullptr, request.model, "");
  using Embedded = Result<serving::EmbedResult>;
  Embedded result = co_await http::AwaitCallback<Embedded>(
      [&service, &request](std::function<void(Embedded)> done) {
        service.SubmitEmbed(std::move(request), std::move(done));
      });
  if (!result.ok()) {
    tracked->Refuse(result.status());
  } else {
    serving::Finish finish;
    finish.usage.prompt_tokens = result->prompt_tokens;
    tracked->OnFinish(finish);
  }
  co_return result;
}

}  // namespace llmux::gateway
