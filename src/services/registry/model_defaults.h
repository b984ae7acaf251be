// Requests that leave a value out get the model's default from the registry. ApplyModelDefaults
// is the merge (a value the request gives always wins); ModelDefaultsService applies it in front
// of an InferenceService, so every front end (OpenAI, Ollama, gRPC, MCP) gets the same defaults
// from one place.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "services/registry/registry_types.h"
#include "serving/inference_service.h"

namespace llmux::registry {

// Sampling defaults (temperature, top_p, top_k, min_p, seed) and max_tokens.
void ApplyModelDefaults(const ModelParameters& defaults, serving::GenerationOptions& options);
// The above, and the system prompt as a first system message when the chat has none.
void ApplyModelDefaults(const ModelParameters& defaults, serving::ChatRequest& request);

class ModelDefaultsService final : public serving::InferenceService {
 public:
  // The defaults of the model a request names; nullopt: none. Called once per request.
  using Lookup = std::function<std::optional<ModelParameters>(std::string_view model)>;
  // `inner` must outlive this.
  ModelDefaultsService(serving::InferenceService& inner, Lookup lookup);

  std::vector<serving::ModelInfo> ListModels() const override;
  bool Ready() const override;
  Result<std::shared_ptr<serving::RequestHandle>> Chat(
      serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) override;
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) override;
  void SubmitChat(serving::ChatRequest request, std::shared_ptr<serving::Sink> sink,
                  Submitted done) override;
  void SubmitComplete(serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink,
                      Submitted done) override;
  Result<std::vector<int32_t>> Tokenize(const std::string& model, std::string_view text,
                                        bool add_special) const override;
  Result<std::string> Detokenize(const std::string& model,
                                 std::span<const int32_t> ids) const override;
  void SubmitTokenize(std::string model, std::string text, bool add_special,
                      std::string caller_share, Tokenized done) override;
  void SubmitDetokenize(std::string model, std::vector<int32_t> ids, std::string caller_share,
                        Detokenized done) override;
  // Counted with the defaults applied: a default system prompt is part of the prompt.
  Result<int> CountChatTokens(const serving::ChatRequest& request) const override;
  void SubmitCountChatTokens(serving::ChatRequest request, Counted done) override;
  // Embeddings have no generation defaults: passed through as they are.
  void SubmitEmbed(serving::EmbedRequest request, Embedded done) override;

 private:
  void Apply(serving::ChatRequest& request) const;
  void Apply(serving::CompletionRequest& request) const;

  serving::InferenceService& inner_;
  Lookup lookup_;
};

}  // namespace llmux::registry
