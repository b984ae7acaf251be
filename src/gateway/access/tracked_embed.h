// Embeddings for a front end: submits to the service without holding the io thread, and records
// and charges the call (its prompt tokens) through the same TrackedSink as a generation.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "gateway/access/access_gate.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// Sets the request's caller share from `access`. The error, if any, is already recorded.
boost::asio::awaitable<Result<serving::EmbedResult>> TrackedEmbed(
    CallAccess& access, serving::InferenceService& service, serving::EmbedRequest request);

}  // namespace llmux::gateway
