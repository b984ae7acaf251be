#include "services/registry/model_defaults.h"

#include <utility>

namespace llmux::registry {

void ApplyModelDefaults(const ModelParameters& d, serving::GenerationOptions& o) {
  serving::SamplingOptions& s = o.sampling;
  if (!s.temperature && d.temperature) s.temperature = static_cast<float>(*d.temperature);
  if (!s.top_p && d.top_p) s.top_p = static_cast<float>(*d.top_p);
  if (!s.top_k && d.top_k) s.top_k = static_cast<int>(*d.top_k);
  if (!s.min_p && d.min_p) s.min_p = static_cast<float>(*d.min_p);
  if (!s.seed && d.seed) s.seed = static_cast<uint32_t>(*d.seed);
  if (!o.max_tokens && d.max_tokens) o.max_tokens = static_cast<int>(*d.max_tokens);
}

void ApplyModelDefaults(const ModelParameters& d, serving::ChatRequest& r) {
  ApplyModelDefaults(d, r.options);
  if (!d.system_prompt || d.system_prompt->empty()) return;
  for (const chat::Message& m : r.messages) {
    if (m.role == "system") return;  // the client's own system prompt wins
  }
  chat::Message system;
  system.role = "system";
  system.content = *d.system_prompt;
  r.messages.insert(r.messages.begin(), std::move(system));
}

ModelDefaultsService::ModelDefaultsService(serving::InferenceService& inner, Lookup lookup)
    : inner_(inner), lookup_(std::move(lookup)) {}

void ModelDefaultsService::Apply(serving::ChatRequest& request) const {
  if (auto d = lookup_(request.model)) ApplyModelDefaults(*d, request);
}

void ModelDefaultsService::Apply(serving::CompletionRequest& request) const {
  if (auto d = lookup_(request.model)) ApplyModelDefaults(*d, request.options);
}

std::vector<serving::ModelInfo> ModelDefaultsService::ListModels() const {
  return inner_.ListModels();
}

bool ModelDefaultsService::Ready() const { return inner_.Ready(); }

Result<std::shared_ptr<serving::RequestHandle>> ModelDefaultsService::Chat(
    serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) {
  Apply(request);
  return inner_.Chat(std::move(request), std::move(sink));
}

Result<std::shared_ptr<serving::RequestHandle>> ModelDefaultsService::Complete(
    serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) {
  Apply(request);
  return inner_.Complete(std::move(request), std::move(sink));
}

void ModelDefaultsService::SubmitChat(serving::ChatRequest request,
                                      std::shared_ptr<serving::Sink> sink, Submitted done) {
  Apply(request);
  inner_.SubmitChat(std::move(request), std::move(sink), std::move(done));
}

void ModelDefaultsService::SubmitComplete(serving::CompletionRequest request,
                                          std::shared_ptr<serving::Sink> sink, Submitted done) {
  Apply(request);
  inner_.SubmitComplete(std::move(request), std::move(sink), std::move(done));
}

Result<std::vector<int32_t>> ModelDefaultsService::Tokenize(const std::string& model,
                                                            std::string_view text,
                                                            bool add_special) const {
  return inner_.Tokenize(model, text, add_special);
}

Result<std::string> ModelDefaultsService::Detokenize(const std::string& model,
                                                     std::span<const int32_t> ids) const {
  return inner_.Detokenize(model, ids);
}

void ModelDefaultsService::SubmitTokenize(std::string model, std::string text, bool add_special,
                                          std::string caller_share, Tokenized done) {
  inner_.SubmitTokenize(std::move(model), std::move(text), add_special, std::move(caller_share),
                        std::move(done));
}

void ModelDefaultsService::SubmitDetokenize(std::string model, std::vector<int32_t> ids,
                                            std::string caller_share, Detokenized done) {
  inner_.SubmitDetokenize(std::move(model), std::move(ids), std::move(caller_share),
                          std::move(done));
}

void ModelDefaultsService::SubmitEmbed(serving::EmbedRequest request, Embedded done) {
  inner_.SubmitEmbed(std::move(request), std::move(done));
}

Result<int> ModelDefaultsService::CountChatTokens(const serving::ChatRequest& request) const {
  serving::ChatRequest applied = request;
  Apply(applied);
  return inner_.CountChatTokens(applied);
}

void ModelDefaultsService::SubmitCountChatTokens(serving::ChatRequest request, Counted done) {
  Apply(request);
  inner_.SubmitCountChatTokens(std::move(request), std::move(done));
}

}  // namespace llmux::registry
