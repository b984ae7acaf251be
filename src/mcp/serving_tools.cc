// The generation tools (chat, complete) and the model tools (list_models, model_info;
// load_model and unload_model are in model_tools.cc).
#include <atomic>
#include <memory>
#include <mutex>

#include "mcp/serving_tools.h"

namespace llmux::mcp {

namespace {

using serving::InferenceService;

Json SamplingSchema() {
  return Json{{"max_tokens", {{"type", "integer"}, {"minimum", 1}, {"description", "most tokens to generate"}}},
              {"temperature", {{"type", "number"}, {"minimum", 0}, {"maximum", 2}}},
              {"top_p", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
              {"seed", {{"type", "integer"}, {"minimum", 0}}},
              {"stop", {{"type", "array"}, {"items", {{"type", "string"}}}, {"maxItems", 4}}}};
}

Json GenerationOutputSchema() {
  return Json{{"type", "object"},
              {"properties",
               {{"model", {{"type", "string"}}},
                {"text", {{"type", "string"}}},
                {"finish_reason", {{"type", "string"}}},
                {"usage",
                 {{"type", "object"},
                  {"properties",
                   {{"prompt_tokens", {{"type", "integer"}}},
                    {"completion_tokens", {{"type", "integer"}}},
                    {"cached_tokens", {{"type", "integer"}}}}}}}}},
              {"required", {"model", "text", "finish_reason", "usage"}}};
}

// Reads the shared generation arguments; a bad value is a tool error naming it.
Status ReadOptions(const Json& args, serving::GenerationOptions* options) {
  if (auto v = args.find("max_tokens"); v != args.end()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 1) {
      return InvalidArgumentError("max_tokens must be a positive integer");
    }
    options->max_tokens = static_cast<int>(std::min<int64_t>(v->get<int64_t>(), 1 << 20));
  }
  if (auto v = args.find("temperature"); v != args.end()) {
    if (!v->is_number() || v->get<double>() < 0 || v->get<double>() > 2) {
      return InvalidArgumentError("temperature must be a number from 0 to 2");
    }
    options->sampling.temperature = v->get<float>();
  }
  if (auto v = args.find("top_p"); v != args.end()) {
    if (!v->is_number() || v->get<double>() <= 0 || v->get<double>() > 1) {
      return InvalidArgumentError("top_p must be a number in (0, 1]");
    }
    options->sampling.top_p = v->get<float>();
  }
  if (auto v = args.find("seed"); v != args.end()) {
    if (!v->is_number_unsigned() || v->get<uint64_t>() > UINT32_MAX) {
      return InvalidArgumentError("seed must be an integer from 0 to 4294967295");
    }
    options->sampling.seed = v->get<uint32_t>();
  }
  if (auto v = args.find("stop"); v != args.end()) {
    if (!v->is_array() || v->size() > 4) return InvalidArgumentError("stop must be up to 4 strings");
    for (const auto& s : *v) {
      if (!s.is_string() || s.get<std::string>().empty()) {
        return InvalidArgumentError("stop must be up to 4 non-empty strings");
      }
      options->stop.push_back(s.get<std::string>());
    }
  }
  return Status();
}

Result<std::string> ModelArgument(const Json& args) {
  auto v = args.find("model");
  if (v == args.end() || !v->is_string() || v->get<std::string>().empty()) {
    return InvalidArgumentError("model is required: the name of a served model (see list_models)");
  }
  return v->get<std::string>();
}

chat::Message TextMessage(std::string role, std::string content) {
  chat::Message m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

Result<std::vector<chat::Message>> MessagesArgument(const Json& args) {
  std::vector<chat::Message> messages;
  if (auto system = args.find("system"); system != args.end()) {
    if (!system->is_string()) return InvalidArgumentError("system must be a string");
    messages.push_back(TextMessage("system", system->get<std::string>()));
  }
  if (auto list = args.find("messages"); list != args.end()) {
    if (!list->is_array()) return InvalidArgumentError("messages must be an array");
    for (const auto& m : *list) {
      if (!m.is_object() || !m.value("role", Json()).is_string() ||
          !m.value("content", Json()).is_string()) {
        return InvalidArgumentError("each message needs a string role and a string content");
      }
      const std::string role = m["role"];
      if (role != "system" && role != "user" && role != "assistant") {
        return InvalidArgumentError("message role must be system, user or assistant, not " + role);
      }
      messages.push_back(TextMessage(role, m["content"]));
    }
  }
  if (auto prompt = args.find("prompt"); prompt != args.end()) {
    if (!prompt->is_string()) return InvalidArgumentError("prompt must be a string");
    messages.push_back(TextMessage("user", prompt->get<std::string>()));
  }
  if (messages.empty() || messages.back().role == "system") {
    return InvalidArgumentError("give the conversation in messages or a prompt");
  }
  return messages;
}

Json MessagesJson(const std::vector<chat::Message>& messages) {
  Json out = Json::array();
  for (const auto& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  return out;
}

// Streams one generation into a tool call: progress per token (with the new text as its
// message), cancellation of the engine request, the result at the end.
class ToolSink : public serving::Sink {
 public:
  ToolSink(std::shared_ptr<ToolCall> call, std::string model, std::optional<int> max_tokens,
           std::function<void(const std::string& text)> on_done)
      : call_(std::move(call)),
        model_(std::move(model)),
        max_tokens_(max_tokens),
        on_done_(std::move(on_done)) {}

  void OnDelta(const serving::Delta& delta) override {
    std::string piece = delta.reasoning + delta.content;
    double tokens;
    {
      std::lock_guard lock(mu_);
      text_ += delta.content;
      tokens = ++deltas_;
    }
    std::optional<double> total;
    if (max_tokens_) total = *max_tokens_;
    call_->Progress(tokens, total, std::move(piece));
  }

  void OnFinish(const serving::Finish& finish) override {
    if (finish.reason == serving::FinishReason::kCancelled) {
      // Dropped when the client cancelled (the call is done then); otherwise the server did,
      // and the caller is still waiting for an answer.
      call_->FinishWithError("generation was cancelled: the model was unloaded or the server is "
                             "shutting down");
      return;
    }
    if (finish.reason == serving::FinishReason::kError) {
      call_->FinishWithError("generation failed: " + finish.error.message());
      return;
    }
    std::string text;
    {
      std::lock_guard lock(mu_);
      text = text_;
    }
    if (on_done_) on_done_(text);
    Json structured{{"model", model_},
                    {"text", text},
                    {"finish_reason", serving::FinishReasonName(finish.reason)},
                    {"usage",
                     {{"prompt_tokens", finish.usage.prompt_tokens},
                      {"completion_tokens", finish.usage.completion_tokens},
                      {"cached_tokens", finish.usage.cached_tokens}}}};
    call_->Finish(Json{{"content", Json::array({TextContent(text)})},
                       {"structuredContent", std::move(structured)}});
  }

 private:
  std::shared_ptr<ToolCall> call_;
  std::string model_;
  std::optional<int> max_tokens_;
  std::function<void(const std::string&)> on_done_;
  std::mutex mu_;
  std::string text_;
  int64_t deltas_ = 0;
};

// Submits with `start(sink, done)` (SubmitChat/SubmitComplete: a gateway's answers later,
// from a thread of its own, not the one that dispatched the tool call) and ties the call's
// cancellation to the engine request.
template <typename StartFn>
void RunGeneration(const std::shared_ptr<ToolCall>& call, std::shared_ptr<serving::Sink> sink,
                   StartFn start) {
  start(std::move(sink), [call](Result<std::shared_ptr<serving::RequestHandle>> handle) {
    if (!handle.ok()) {
      call->FinishWithError(handle.status().message());
      return;
    }
    std::shared_ptr<serving::RequestHandle> request = *handle;
    call->OnCancel([request] { request->Cancel(); });
  });
}

void Chat(InferenceService& service, const std::shared_ptr<ToolCall>& call) {
  const Json& args = call->arguments();
  serving::ChatRequest request;
  auto model = ModelArgument(args);
  auto messages = model.ok() ? MessagesArgument(args) : model.status();
  Status status = messages.ok() ? ReadOptions(args, &request.options) : messages.status();
  std::string conversation;
  if (status.ok()) {
    if (auto v = args.find("session_id"); v != args.end()) {
      if (!v->is_string() || v->get<std::string>().empty()) {
        status = InvalidArgumentError("session_id must be a non-empty string");
      } else if (call->session() == nullptr) {
        status = InvalidArgumentError("session_id needs an MCP session (a stateful connection)");
      } else {
        conversation = v->get<std::string>();
      }
    }
  }
  if (status.ok()) status = call->caller().AllowModel(*model);
  if (!status.ok()) {
    call->FinishWithError(status.message());
    return;
  }
  request.model = *model;
  // A kept conversation: its earlier turns go first, so the prompt's prefix is the one the
  // KV prefix cache already holds.
  std::vector<chat::Message> history;
  if (!conversation.empty()) {
    for (const auto& m : call->session()->Conversation(conversation)) {
      history.push_back(TextMessage(m["role"], m["content"]));
    }
  }
  history.insert(history.end(), messages->begin(), messages->end());
  request.messages = history;
  request.options.caller_share = call->caller().share();
  std::function<void(const std::string&)> on_done;
  if (!conversation.empty()) {
    Session* session = call->session();
    on_done = [session, conversation, history](const std::string& reply) {
      Json all = MessagesJson(history);
      all.push_back({{"role", "assistant"}, {"content", reply}});
      session->SetConversation(conversation, std::move(all));
    };
  }
  auto sink = call->caller().Track(
      std::make_shared<ToolSink>(call, request.model, request.options.max_tokens, on_done),
      request.model);
  RunGeneration(call, sink, [&service, &request](std::shared_ptr<serving::Sink> s, InferenceService::Submitted done) {
    service.SubmitChat(std::move(request), std::move(s), std::move(done));
  });
}

void Complete(InferenceService& service, const std::shared_ptr<ToolCall>& call) {
  const Json& args = call->arguments();
  serving::CompletionRequest request;
  auto model = ModelArgument(args);
  Status status = model.status();
  if (status.ok()) {
    auto prompt = args.find("prompt");
    if (prompt == args.end() || !prompt->is_string()) {
      status = InvalidArgumentError("prompt is required: the text to continue");
    } else {
      request.prompt = prompt->get<std::string>();
    }
  }
  if (status.ok()) status = ReadOptions(args, &request.options);
  if (status.ok()) status = call->caller().AllowModel(*model);
  if (!status.ok()) {
    call->FinishWithError(status.message());
    return;
  }
  request.model = *model;
  request.options.caller_share = call->caller().share();
  auto sink = call->caller().Track(
      std::make_shared<ToolSink>(call, request.model, request.options.max_tokens, nullptr),
      request.model);
  RunGeneration(call, sink, [&service, &request](std::shared_ptr<serving::Sink> s, InferenceService::Submitted done) {
    service.SubmitComplete(std::move(request), std::move(s), std::move(done));
  });
}

}  // namespace

Json ModelCard(const serving::ModelInfo& m) {
  return Json{{"name", m.id},
              {"architecture", m.architecture},
              {"quantization", m.quantization},
              {"context_length", m.context_length},
              {"ready", m.ready},
              {"loaded_at", m.created},
              {"default_parameters", {{"temperature", 1.0}, {"top_p", 1.0}, {"max_tokens", nullptr}}},
              {"uri", "llmux://models/" + m.id}};
}

void AddServingTools(Catalog& catalog, InferenceService& service,
                     const ServingCatalogOptions& options) {
  auto permission = [&](const std::string& tool) {
    return options.tool_permission ? options.tool_permission(tool) : std::string();
  };
  InferenceService* svc = &service;
  Json chat_props = SamplingSchema();
  chat_props["model"] = {{"type", "string"}, {"description", "a served model (see list_models)"}};
  chat_props["prompt"] = {{"type", "string"}, {"description", "the user's message"}};
  chat_props["system"] = {{"type", "string"}, {"description", "a system message to put first"}};
  chat_props["messages"] = {
      {"type", "array"},
      {"description", "the conversation so far (instead of or before prompt)"},
      {"items",
       {{"type", "object"},
        {"properties",
         {{"role", {{"type", "string"}, {"enum", {"system", "user", "assistant"}}}},
          {"content", {{"type", "string"}}}}},
        {"required", {"role", "content"}}}}};
  chat_props["session_id"] = {
      {"type", "string"},
      {"description", "keep this conversation on the server under this name: later calls with "
                      "the same session_id send only the new message"}};
  catalog.AddTool(
      {{{"name", "chat"},
        {"title", "Chat with a local model"},
        {"description", "A chat completion on a model served by llmux. Progress notifications carry "
                        "the text as it is generated; cancelling the request stops generation."},
        {"inputSchema", {{"type", "object"}, {"properties", chat_props}, {"required", {"model"}}}},
        {"outputSchema", GenerationOutputSchema()},
        {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}},
       permission("chat"),
       [svc](std::shared_ptr<ToolCall> call) { Chat(*svc, call); }});

  Json complete_props = SamplingSchema();
  complete_props["model"] = {{"type", "string"}};
  complete_props["prompt"] = {{"type", "string"}, {"description", "the text to continue"}};
  catalog.AddTool(
      {{{"name", "complete"},
        {"title", "Continue a text"},
        {"description", "A raw text completion (no chat template) on a model served by llmux."},
        {"inputSchema",
         {{"type", "object"}, {"properties", complete_props}, {"required", {"model", "prompt"}}}},
        {"outputSchema", GenerationOutputSchema()},
        {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}},
       permission("complete"),
       [svc](std::shared_ptr<ToolCall> call) { Complete(*svc, call); }});

  catalog.AddTool(
      {{{"name", "list_models"},
        {"title", "List the served models"},
        {"description", "The models this llmux serves that the caller may use."},
        {"inputSchema", {{"type", "object"}, {"properties", Json::object()}}},
        {"annotations", {{"readOnlyHint", true}}}},
       permission("list_models"),
       [svc](std::shared_ptr<ToolCall> call) {
         Json models = Json::array();
         for (const auto& m : svc->ListModels()) {
           if (call->caller().MayUseModel(m.id)) models.push_back(ModelCard(m));
         }
         Json structured{{"models", models}};
         call->Finish({{"content", Json::array({TextContent(models.dump())})},
                       {"structuredContent", std::move(structured)}});
       }});

  catalog.AddTool(
      {{{"name", "model_info"},
        {"title", "Describe a model"},
        {"description", "The model card of one served model: architecture, quantization, context "
                        "length and default parameters."},
        {"inputSchema",
         {{"type", "object"},
          {"properties", {{"model", {{"type", "string"}}}}},
          {"required", {"model"}}}},
        {"annotations", {{"readOnlyHint", true}}}},
       permission("model_info"),
       [svc](std::shared_ptr<ToolCall> call) {
         auto model = ModelArgument(call->arguments());
         if (!model.ok()) return call->FinishWithError(model.status().message());
         for (const auto& m : svc->ListModels()) {
           if (m.id == *model && call->caller().MayUseModel(m.id)) {
             Json card = ModelCard(m);
             call->Finish({{"content", Json::array({TextContent(card.dump())})},
                           {"structuredContent", card}});
             return;
           }
         }
         call->FinishWithError("no served model is called " + *model);
       }});

  AddModelTools(catalog, service, options);
}

}  // namespace llmux::mcp
