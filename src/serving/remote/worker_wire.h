// The serving layer's types on the worker protocol (proto/llmux/worker/v1/worker.proto) and
// back, field for field, so that a request served by a worker is the request the gateway got.
// Decoding checks what protobuf cannot: enum values in range and JSON texts that parse (they
// come from the network); a failure is kInvalidArgument naming the field.
#pragma once

#include "base/status.h"
#include "llmux/worker/v1/worker.pb.h"
#include "serving/inference_service.h"
#include "serving/model_lifecycle.h"

namespace llmux::serving::wire {

namespace pb = ::llmux::worker::v1;

pb::ChatRequest ToProto(const ChatRequest& request);
pb::CompletionRequest ToProto(const CompletionRequest& request);
Result<ChatRequest> FromProto(const pb::ChatRequest& request);
Result<CompletionRequest> FromProto(const pb::CompletionRequest& request);

pb::Delta ToProto(const Delta& delta);
Delta FromProto(const pb::Delta& delta);
// Appends `next` to `into` as if the engine had produced both as one delta: texts, logprobs and
// token ids concatenated; a tool call's argument fragment joins the call it continues (same
// index, no id or name of its own) rather than adding an entry with a repeated index.
void AppendDelta(pb::Delta& into, pb::Delta&& next);
pb::Finish ToProto(const Finish& finish);
Result<Finish> FromProto(const pb::Finish& finish);

pb::Error ToProto(const Status& status);
Status FromProto(const pb::Error& error);

pb::ModelInfo ToProto(const ModelInfo& info);
ModelInfo FromProto(const pb::ModelInfo& info);

// A model's lifecycle; decoding refuses a state this build does not know.
pb::ModelStatus ToProto(const ModelStatus& status);
Result<ModelStatus> FromProto(const pb::ModelStatus& status);

// Embeddings. Decoding a request checks the input count (1..kMaxEmbedInputs) and that
// dimensions is not negative; the service behind checks the rest (tokens, context length).
pb::EmbedRequest ToProto(const EmbedRequest& request);
Result<EmbedRequest> FromProto(const pb::EmbedRequest& request);
pb::EmbedResponse ToProto(const EmbedResult& result);
// The response's embeddings, or the refusal it carries.
Result<EmbedResult> FromProto(const pb::EmbedResponse& response);

}  // namespace llmux::serving::wire
