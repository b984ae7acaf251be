#include "mcp/conformance_fixtures.h"

#include "mcp/mcp_server.h"
#include "mcp/request_state.h"

#include <chrono>
#include <thread>

namespace llmux::mcp {

namespace {

// A 1x1 PNG and a WAV file without samples: the smallest valid media for the suite.
constexpr const char* kPng =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
constexpr const char* kWav = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

// The string at `key` of a client's value, else `fallback`: what the client sends may hold any
// JSON, and json::value() throws on a member of another type.
std::string TextAt(const Json& value, const char* key, std::string fallback = "") {
  if (!value.is_object()) return fallback;
  auto it = value.find(key);
  return it != value.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// The member `key` of a client's value, or null.
Json MemberAt(const Json& value, const char* key) {
  if (!value.is_object()) return Json();
  auto it = value.find(key);
  return it != value.end() ? *it : Json();
}

Json NoArguments() { return Json{{"type", "object"}, {"properties", Json::object()}}; }

Json Image() { return Json{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}; }

Json Tool(const char* name, const char* description, Json input_schema = NoArguments()) {
  return Json{{"name", name}, {"description", description}, {"inputSchema", std::move(input_schema)}};
}

Json StringArgs(std::initializer_list<const char*> names) {
  Json props = Json::object();
  Json required = Json::array();
  for (const char* n : names) {
    props[n] = {{"type", "string"}};
    required.push_back(n);
  }
  return Json{{"type", "object"}, {"properties", props}, {"required", required}};
}

void Reply(const std::shared_ptr<ToolCall>& call, Json content) {
  call->Finish({{"content", Json::array({std::move(content)})}});
}

// Runs `steps` on a thread of its own, `delay` apart (the suite wants notifications spread
// out in time), then finishes with `done`.
void Spread(std::shared_ptr<ToolCall> call, std::vector<std::function<void()>> steps,
            std::string done) {
  std::thread([call, steps = std::move(steps), done = std::move(done)] {
    for (size_t i = 0; i < steps.size(); ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (call->cancelled()) return;
      steps[i]();
    }
    Reply(call, TextContent(done));
  }).detach();
}

// elicitation/create, then the result as text ("<prefix>action=..., content=...").
void Elicit(const std::shared_ptr<ToolCall>& call, Json params, std::string prefix) {
  if (!call->ClientSupports("elicitation")) {
    return call->FinishWithError("the client does not support elicitation");
  }
  call->Request("elicitation/create", std::move(params),
                [call, prefix](Result<Json> reply) {
                  if (!reply.ok()) return call->FinishWithError(reply.status().message());
                  std::string text = prefix + "action=" + TextAt(*reply, "action") +
                                     ", content=" + MemberAt(*reply, "content").dump();
                  Reply(call, TextContent(text));
                });
}

void AddTools(Catalog& catalog) {
  catalog.AddTool({Tool("test_simple_text", "Returns simple text"), "", [](auto call) {
                     Reply(call, TextContent("This is a simple text response for testing."));
                   }});
  catalog.AddTool({Tool("test_image_content", "Returns an image"), "",
                   [](auto call) { Reply(call, Image()); }});
  catalog.AddTool({Tool("test_audio_content", "Returns audio"), "", [](auto call) {
                     Reply(call, {{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}});
                   }});
  catalog.AddTool({Tool("test_embedded_resource", "Returns an embedded resource"), "",
                   [](auto call) {
                     Reply(call, {{"type", "resource"},
                                  {"resource",
                                   {{"uri", "test://embedded-resource"},
                                    {"mimeType", "text/plain"},
                                    {"text", "This is an embedded resource content."}}}});
                   }});
  catalog.AddTool(
      {Tool("test_multiple_content_types", "Returns text, an image and a resource"), "",
       [](std::shared_ptr<ToolCall> call) {
         call->Finish({{"content",
                        {TextContent("Multiple content types test:"), Image(),
                         {{"type", "resource"},
                          {"resource",
                           {{"uri", "test://mixed-content-resource"},
                            {"mimeType", "application/json"},
                            {"text", R"({"test":"data","value":123})"}}}}}}});
       }});
  catalog.AddTool({Tool("test_tool_with_logging", "Logs three messages while it runs"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     auto log = [call](const char* text) {
                       return [call, text] { call->Log(LogLevel::kInfo, text, "conformance"); };
                     };
                     Spread(call,
                            {log("Tool execution started"), log("Tool processing data"),
                             log("Tool execution completed")},
                            "Logging tool executed");
                   }});
  catalog.AddTool({Tool("test_error_handling", "Always fails"), "", [](auto call) {
                     call->FinishWithError("This tool intentionally returns an error for testing");
                   }});
  catalog.AddTool({Tool("test_tool_with_progress", "Reports progress 0, 50, 100 of 100"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     auto step = [call](double p) { return [call, p] { call->Progress(p, 100); }; };
                     Spread(call, {step(0), step(50), step(100)}, "Progress tool executed");
                   }});
  catalog.AddTool(
      {Tool("test_sampling", "Asks the client's LLM", StringArgs({"prompt"})), "",
       [](std::shared_ptr<ToolCall> call) {
         if (!call->ClientSupports("sampling")) {
           return call->FinishWithError("the client does not support sampling");
         }
         Json message{{"role", "user"},
                      {"content", TextContent(TextAt(call->arguments(), "prompt"))}};
         call->Request("sampling/createMessage", {{"messages", {message}}, {"maxTokens", 100}},
                       [call](Result<Json> reply) {
                         if (!reply.ok()) return call->FinishWithError(reply.status().message());
                         std::string text = "LLM response: ";
                         text += TextAt(MemberAt(*reply, "content"), "text");
                         Reply(call, TextContent(text));
                       });
       }});
  catalog.AddTool(
      {Tool("test_elicitation", "Asks the user", StringArgs({"message"})), "",
       [](std::shared_ptr<ToolCall> call) {
         Json schema{{"type", "object"},
                     {"properties",
                      {{"username", {{"type", "string"}, {"description", "User's response"}}},
                       {"email", {{"type", "string"}, {"description", "User's email address"}}}}},
                     {"required", {"username", "email"}}};
         Elicit(call,
                {{"message", TextAt(call->arguments(), "message")}, {"requestedSchema", schema}},
                "User response: ");
       }});
  catalog.AddTool(
      {Tool("test_elicitation_sep1034_defaults", "Asks with defaults of every type"), "",
       [](std::shared_ptr<ToolCall> call) {
         Json props{{"name", {{"type", "string"}, {"default", "John Doe"}}},
                    {"age", {{"type", "integer"}, {"default", 30}}},
                    {"score", {{"type", "number"}, {"default", 95.5}}},
                    {"status", {{"type", "string"}, {"enum", {"active", "inactive", "pending"}}, {"default", "active"}}},
                    {"verified", {{"type", "boolean"}, {"default", true}}}};
         Elicit(call, {{"message", "Please confirm your details"},
                       {"requestedSchema", {{"type", "object"}, {"properties", props}}}},
                "Elicitation completed: ");
       }});
  catalog.AddTool(
      {Tool("test_elicitation_sep1330_enums", "Asks with every kind of enum"), "",
       [](std::shared_ptr<ToolCall> call) {
         auto titled = [](const char* prefix, const char* title) {
           Json list = Json::array();
           const char* ordinals[] = {"First", "Second", "Third"};
           for (int i = 0; i < 3; ++i) {
             list.push_back({{"const", std::string(prefix) + std::to_string(i + 1)},
                             {"title", std::string(ordinals[i]) + " " + title}});
           }
           return list;
         };
         Json props{
             {"untitledSingle", {{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}},
             {"titledSingle", {{"type", "string"}, {"oneOf", titled("value", "Option")}}},
             {"legacyEnum",
              {{"type", "string"},
               {"enum", {"opt1", "opt2", "opt3"}},
               {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
             {"untitledMulti",
              {{"type", "array"}, {"items", {{"type", "string"}, {"enum", {"option1", "option2", "option3"}}}}}},
             {"titledMulti", {{"type", "array"}, {"items", {{"anyOf", titled("value", "Choice")}}}}}};
         Elicit(call, {{"message", "Please choose"},
                       {"requestedSchema", {{"type", "object"}, {"properties", props}}}},
                "Elicitation completed: ");
       }});
  // Probes of the stateless protocol (2026-07-28 suite).
  catalog.AddTool({Tool("test_missing_capability", "Needs the client's sampling capability"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     if (!call->ClientSupports("sampling")) {
                       return call->Fail(RpcError{rpc_error::kMissingRequiredClientCapability,
                                                  "this tool needs the sampling capability",
                                                  Json{{"requiredCapabilities",
                                                        {{"sampling", Json::object()}}}}});
                     }
                     Reply(call, TextContent("the client can sample"));
                   }});
  catalog.AddTool({Tool("test_streaming_elicitation", "Would ask the user mid-call"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     // A stateless server may not send requests on a response stream.
                     Reply(call, TextContent(call->stateless()
                                                 ? "no mid-call requests in the stateless protocol"
                                                 : "elicitation needs no stream here"));
                   }});
  catalog.AddTool({Tool("test_logging_tool", "Logs one message"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     call->Log(LogLevel::kInfo, "test_logging_tool ran", "conformance");
                     Reply(call, TextContent("logged"));
                   }});
  catalog.AddTool({{{"name", "json_schema_2020_12_tool"},
                    {"description", "Tool with JSON Schema 2020-12 features"},
                    {"inputSchema",
                     {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                      {"type", "object"},
                      {"$defs",
                       {{"address",
                         {{"type", "object"},
                          {"$anchor", "address"},
                          {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}}}}},
                      {"allOf", {{{"anyOf", {{{"required", {"name"}}}, {{"required", {"address"}}}}}}}},
                      {"if", {{"properties", {{"name", {{"const", "x"}}}}}}},
                      {"then", {{"required", {"address"}}}},
                      {"else", Json::object()},
                      {"properties", {{"name", {{"type", "string"}}}, {"address", {{"$ref", "#/$defs/address"}}}}},
                      {"additionalProperties", false}}}},
                   "",
                   [](auto call) { Reply(call, TextContent("ok")); }});
}

ResourceDefinition TextResource(const char* uri, const char* name, const char* mime,
                                const char* text) {
  return {{{"uri", uri}, {"name", name}, {"description", std::string("Conformance fixture ") + name},
           {"mimeType", mime}},
          [mime, text](const std::string& u, Caller&) -> Result<Json> {
            return Json::array({{{"uri", u}, {"mimeType", mime}, {"text", text}}});
          }};
}

void AddResources(Catalog& catalog) {
  catalog.AddResource(TextResource("test://static-text", "static-text", "text/plain",
                                   "This is the content of the static text resource."));
  catalog.AddResource({{{"uri", "test://static-binary"},
                        {"name", "static-binary"},
                        {"description", "Conformance fixture static-binary"},
                        {"mimeType", "image/png"}},
                       [](const std::string& u, Caller&) -> Result<Json> {
                         return Json::array({{{"uri", u}, {"mimeType", "image/png"}, {"blob", kPng}}});
                       }});
  catalog.AddResource(TextResource("test://watched-resource", "watched-resource", "text/plain",
                                   "Watched resource content"));
  catalog.AddResourceTemplate(
      {{{"uriTemplate", "test://template/{id}/data"},
        {"name", "template"},
        {"description", "Conformance fixture template"},
        {"mimeType", "application/json"}},
       [](const std::string& u, Caller&) -> Result<Json> {
         const std::string id = (*MatchUriTemplate("test://template/{id}/data", u))["id"];
         Json data{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}};
         return Json::array({{{"uri", u}, {"mimeType", "application/json"}, {"text", data.dump()}}});
       },
       nullptr});
}

Json UserText(std::string text) { return Json{{"role", "user"}, {"content", TextContent(std::move(text))}}; }

void AddPrompts(Catalog& catalog) {
  catalog.AddPrompt({{{"name", "test_simple_prompt"}, {"description", "A simple prompt"}},
                     [](const Json&, const Json&) -> Result<Json> {
                       return Json{{"messages", {UserText("This is a simple prompt for testing.")}}};
                     },
                     nullptr});
  catalog.AddPrompt(
      {{{"name", "test_prompt_with_arguments"},
        {"description", "A prompt with arguments"},
        {"arguments",
         {{{"name", "arg1"}, {"description", "First test argument"}, {"required", true}},
          {{"name", "arg2"}, {"description", "Second test argument"}, {"required", true}}}}},
       [](const Json& args, const Json&) -> Result<Json> {
         std::string text = "Prompt with arguments: arg1='" + TextAt(args, "arg1") + "', arg2='" +
                            TextAt(args, "arg2") + "'";
         return Json{{"messages", {UserText(text)}}};
       },
       [](const std::string&, const std::string& value, const Json&, const Caller&) {
         std::vector<std::string> out;
         for (std::string v : {"test", "testing", "tested", "value"}) {
           if (v.rfind(value, 0) == 0) out.push_back(v);
         }
         return out;
       }});
  catalog.AddPrompt(
      {{{"name", "test_prompt_with_embedded_resource"},
        {"description", "A prompt with an embedded resource"},
        {"arguments",
         {{{"name", "resourceUri"},
           {"description", "URI of the resource to embed"},
           {"required", true}}}}},
       [](const Json& args, const Json&) -> Result<Json> {
         Json resource{{"role", "user"},
                       {"content",
                        {{"type", "resource"},
                         {"resource",
                          {{"uri", TextAt(args, "resourceUri")},
                           {"mimeType", "text/plain"},
                           {"text", "Embedded resource content for testing."}}}}}};
         return Json{{"messages", {resource, UserText("Please process the embedded resource above.")}}};
       },
       nullptr});
  catalog.AddPrompt({{{"name", "test_prompt_with_image"}, {"description", "A prompt with an image"}},
                     [](const Json&, const Json&) -> Result<Json> {
                       Json image{{"role", "user"}, {"content", Image()}};
                       return Json{{"messages", {image, UserText("Please analyze the image above.")}}};
                     },
                     nullptr});
}


// Multi-round-trip results (2026-07-28, SEP-2322): the fixtures of the input-required
// scenarios. Round one answers input_required; the next call carries the client's answers.
Json Elicitation(const char* message, Json properties, Json required) {
  return Json{{"method", "elicitation/create"},
              {"params",
               {{"message", message},
                {"requestedSchema",
                 {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}}}}}};
}

Json Sampling(const char* question) {
  return Json{{"method", "sampling/createMessage"},
              {"params",
               {{"messages", {{{"role", "user"}, {"content", TextContent(question)}}}}, {"maxTokens", 100}}}};
}

Json Roots() { return Json{{"method", "roots/list"}, {"params", Json::object()}}; }

// The answer to `key`, or null (WithInputs has checked the shapes).
Json Answer(const std::shared_ptr<ToolCall>& call, const char* key) {
  const Json& responses = call->input_responses();
  if (!responses.is_object()) return Json();
  return responses.value(key, Json());
}

// The verified payload of the call's requestState ("" when none was sent).
Result<std::string> State(const std::shared_ptr<ToolCall>& call) {
  if (call->request_state().empty()) return std::string();
  return VerifyRequestState(call->request_state());
}

// Runs `body` unless the answers or the state are malformed, which fails the call.
void WithInputs(const std::shared_ptr<ToolCall>& call,
                const std::function<void(const std::string& state)>& body) {
  auto state = State(call);
  if (!state.ok()) return call->Fail(RpcError{rpc_error::kInvalidParams, state.status().message(), std::nullopt});
  const Json& responses = call->input_responses();
  if (!responses.is_null() && !responses.is_object()) {
    return call->Fail(RpcError{rpc_error::kInvalidParams, "inputResponses must be an object", std::nullopt});
  }
  if (responses.is_object()) {
    for (const auto& [key, value] : responses.items()) {
      if (!value.is_object()) {
        return call->Fail(RpcError{rpc_error::kInvalidParams,
                                   "inputResponses." + key + " must be an object", std::nullopt});
      }
    }
  }
  body(*state);
}

void AddInputRequiredTools(Catalog& catalog) {
  catalog.AddTool({Tool("test_input_required_result_elicitation", "Asks the user's name first"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string&) {
                       auto answer = Answer(call, "user_name");
                       const std::string name = TextAt(MemberAt(answer, "content"), "name");
                       if (!name.empty()) {
                         return Reply(call, TextContent("Hello, " + name + "!"));
                       }
                       call->InputRequired({{"user_name", Elicitation("What is your name?", {{"name", {{"type", "string"}}}}, {"name"})}});
                     });
                   }});
  catalog.AddTool({Tool("test_input_required_result_sampling", "Asks the client's LLM first"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string&) {
                       auto answer = Answer(call, "capital");
                       if (answer.is_object() && !answer.empty()) {
                         return Reply(call,
                                      TextContent("The model said: " +
                                                  TextAt(MemberAt(answer, "content"), "text")));
                       }
                       call->InputRequired({{"capital", Sampling("What is the capital of France?")}});
                     });
                   }});
  catalog.AddTool({Tool("test_input_required_result_list_roots", "Asks the client's roots first"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string&) {
                       auto answer = Answer(call, "roots");
                       if (answer.is_object() && answer.contains("roots")) {
                         return Reply(call, TextContent("Roots: " + std::to_string(answer["roots"].size())));
                       }
                       call->InputRequired({{"roots", Roots()}});
                     });
                   }});
  auto confirm = [](const char* name) {
    return Tool(name, "Asks for a confirmation, keeping state in requestState");
  };
  for (const char* name : {"test_input_required_result_request_state", "test_input_required_result_tampered_state"}) {
    catalog.AddTool({confirm(name), "", [](std::shared_ptr<ToolCall> call) {
                       WithInputs(call, [&](const std::string& state) {
                         auto answer = Answer(call, "confirm");
                         if (state == "confirm" && answer.is_object() && !answer.empty()) {
                           return Reply(call, TextContent("state-ok: " +
                                                          MemberAt(answer, "content").dump()));
                         }
                         call->InputRequired({{"confirm", Elicitation("Please confirm", {{"ok", {{"type", "boolean"}}}}, {"ok"})}},
                                             "confirm");
                       });
                     }});
  }
  catalog.AddTool({Tool("test_input_required_result_multiple_inputs", "Asks three things at once"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string& state) {
                       const Json& r = call->input_responses();
                       if (state == "multiple" && r.is_object() && r.contains("name") && r.contains("capital") &&
                           r.contains("roots")) {
                         return Reply(call, TextContent("all three answered"));
                       }
                       call->InputRequired({{"name", Elicitation("What is your name?", {{"name", {{"type", "string"}}}}, {"name"})},
                                            {"capital", Sampling("What is the capital of France?")},
                                            {"roots", Roots()}},
                                           "multiple");
                     });
                   }});
  catalog.AddTool({Tool("test_input_required_result_multi_round", "Asks twice, one round after the other"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string& state) {
                       const Json& r = call->input_responses();
                       if (state == "round-2" && r.is_object() && r.contains("second")) {
                         return Reply(call, TextContent("both rounds answered"));
                       }
                       if (state == "round-1" && r.is_object() && r.contains("first")) {
                         return call->InputRequired({{"second", Elicitation("Second question", {{"b", {{"type", "string"}}}}, {"b"})}},
                                                    "round-2");
                       }
                       call->InputRequired({{"first", Elicitation("First question", {{"a", {{"type", "string"}}}}, {"a"})}}, "round-1");
                     });
                   }});
  catalog.AddTool({Tool("test_input_required_result_capabilities", "Asks only what the client can answer"), "",
                   [](std::shared_ptr<ToolCall> call) {
                     WithInputs(call, [&](const std::string&) {
                       if (call->input_responses().is_object() && !call->input_responses().empty()) {
                         return Reply(call, TextContent("answered"));
                       }
                       Json requests = Json::object();
                       if (call->ClientSupports("elicitation")) {
                         requests["name"] = Elicitation("What is your name?", {{"name", {{"type", "string"}}}}, {"name"});
                       }
                       if (call->ClientSupports("sampling")) requests["capital"] = Sampling("What is the capital of France?");
                       if (call->ClientSupports("roots")) requests["roots"] = Roots();
                       if (requests.empty()) return call->FinishWithError("the client can answer nothing");
                       call->InputRequired(std::move(requests));
                     });
                   }});
}

void AddInputRequiredPrompt(Catalog& catalog) {
  catalog.AddPrompt({{{"name", "test_input_required_result_prompt"}, {"description", "Asks a topic first"}},
                     [](const Json&, const Json& params) -> Result<Json> {
                       const Json responses = params.value("inputResponses", Json());
                       const Json answer = MemberAt(responses, "topic");
                       if (answer.is_object()) {
                         std::string topic =
                             TextAt(MemberAt(answer, "content"), "topic", "anything");
                         return Json{{"messages", {UserText("Write about " + topic + ".")}}};
                       }
                       return Json{{"resultType", "input_required"},
                                   {"inputRequests",
                                    {{"topic", Elicitation("Which topic?", {{"topic", {{"type", "string"}}}}, {"topic"})}}}};
                     },
                     nullptr});
}

}  // namespace

void AddConformanceFixtures(Catalog& catalog) {
  AddTools(catalog);
  AddInputRequiredTools(catalog);
  AddResources(catalog);
  AddPrompts(catalog);
  AddInputRequiredPrompt(catalog);
}

}  // namespace llmux::mcp
