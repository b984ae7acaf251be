#include "mcp/mcp_server.h"

#include <gtest/gtest.h>

#include <mutex>

#include "mcp/conformance_fixtures.h"

namespace llmux::mcp {
namespace {

// Records what the server sends.
class RecordingOutbound : public Outbound {
 public:
  void Send(Json message) override {
    std::lock_guard lock(mu);
    sent.push_back(std::move(message));
  }
  void Finish(Json response) override {
    std::lock_guard lock(mu);
    ++finishes;
    final = std::move(response);
  }
  std::mutex mu;
  std::vector<Json> sent;
  Json final;
  int finishes = 0;
};

class McpServerTest : public ::testing::Test {
 protected:
  McpServerTest() {
    catalog_ = std::make_shared<Catalog>();
    session_ = std::make_shared<Session>("s1", "tester");
    context_.caller = std::make_shared<TrustedCaller>("tester");
    context_.session = session_;
  }

  Json Call(const std::string& method, Json params = Json::object(), Json id = 1) {
    Message m;
    m.kind = Message::Kind::kRequest;
    m.id = id;
    m.method = method;
    m.params = std::move(params);
    auto out = std::make_shared<RecordingOutbound>();
    McpServer server(options_, catalog_);
    server.HandleRequest(m, context_, out);
    EXPECT_EQ(out->finishes, 1) << method;
    return out->final;
  }

  McpServerOptions options_;
  std::shared_ptr<Catalog> catalog_;
  std::shared_ptr<Session> session_;
  RequestContext context_;
};

TEST(JsonRpcTest, ClassifiesMessagesAndRefusesMalformedOnes) {
  Json id;
  auto req = ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":"a","method":"ping"})"), &id);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->kind, Message::Kind::kRequest);
  EXPECT_EQ(id, "a");
  auto note = ParseMessage(Json::parse(R"({"jsonrpc":"2.0","method":"notifications/x"})"), &id);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->kind, Message::Kind::kNotification);
  auto resp = ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"m"}})"), &id);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->kind, Message::Kind::kResponse);
  ASSERT_TRUE(resp->error.has_value());
  EXPECT_EQ(resp->error->code, -1);

  EXPECT_FALSE(ParseMessage(Json::parse(R"({"id":1,"method":"ping"})"), &id).ok());
  EXPECT_EQ(id, 1);  // the id is still read so the error can name it
  EXPECT_FALSE(ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":{},"method":"ping"})"), &id).ok());
  EXPECT_FALSE(ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})"), &id).ok());
  EXPECT_FALSE(ParseMessage(Json::parse(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1}})"), &id).ok());
  EXPECT_FALSE(ParseMessage(Json::parse(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])"), &id).ok());
}

TEST_F(McpServerTest, InitializeNegotiatesTheVersion) {
  Json r = Call("initialize", {{"protocolVersion", "2025-06-18"},
                               {"capabilities", {{"sampling", Json::object()}}},
                               {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-06-18");
  EXPECT_TRUE(r["result"]["capabilities"].contains("tools"));
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "llmux");
  EXPECT_EQ(session_->protocol_version(), "2025-06-18");
  EXPECT_TRUE(session_->ClientSupports("sampling"));
  EXPECT_FALSE(session_->ClientSupports("elicitation"));

  Json unknown = Call("initialize", {{"protocolVersion", "1999-01-01"}, {"capabilities", Json::object()}});
  EXPECT_EQ(unknown["result"]["protocolVersion"], "2025-11-25");
  Json missing = Call("initialize", Json::object());
  EXPECT_EQ(missing["error"]["code"], rpc_error::kInvalidParams);
}

TEST_F(McpServerTest, UnknownMethodIsMethodNotFound) {
  Json r = Call("nope/never", Json::object(), "x");
  EXPECT_EQ(r["id"], "x");
  EXPECT_EQ(r["error"]["code"], rpc_error::kMethodNotFound);
  EXPECT_EQ(Call("ping")["result"], Json::object());
}

TEST_F(McpServerTest, ListsArePagedWithOpaqueCursors) {
  options_.page_size = 2;
  for (int i = 0; i < 5; ++i) {
    std::string name = "t";
    name += std::to_string(i);
    catalog_->AddTool({{{"name", name}, {"inputSchema", {{"type", "object"}}}}, "", nullptr});
  }
  std::vector<std::string> names;
  Json params = Json::object();
  for (int pages = 0; pages < 10; ++pages) {
    Json r = Call("tools/list", params)["result"];
    for (const auto& t : r["tools"]) names.push_back(t["name"]);
    if (!r.contains("nextCursor")) break;
    params["cursor"] = r["nextCursor"];
  }
  EXPECT_EQ(names, (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  EXPECT_EQ(Call("tools/list", {{"cursor", "banana"}})["error"]["code"], rpc_error::kInvalidParams);
  EXPECT_EQ(Call("tools/list", {{"cursor", "99"}})["error"]["code"], rpc_error::kInvalidParams);
}

TEST_F(McpServerTest, ToolsNeedingAPermissionAreHiddenAndRefused) {
  class Limited : public TrustedCaller {
   public:
    bool Allows(std::string_view p) const override { return p != "models:manage"; }
  };
  context_.caller = std::make_shared<Limited>();
  catalog_->AddTool({{{"name", "open"}}, "", [](auto c) { c->Finish({{"content", Json::array()}}); }});
  catalog_->AddTool({{{"name", "admin_only"}}, "models:manage", [](auto c) { c->Finish(Json::object()); }});
  Json tools = Call("tools/list")["result"]["tools"];
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0]["name"], "open");
  Json r = Call("tools/call", {{"name", "admin_only"}});
  EXPECT_EQ(r["error"]["code"], rpc_error::kInvalidParams);
  EXPECT_EQ(Call("tools/call", {{"name", "open"}})["result"]["content"], Json::array());
  EXPECT_EQ(Call("tools/call", {{"name", "missing"}})["error"]["message"], "Unknown tool: missing");
}

TEST_F(McpServerTest, ProgressAndLogsGoOutBeforeTheResultAndRespectTheLevel) {
  catalog_->AddTool({{{"name", "work"}}, "", [](std::shared_ptr<ToolCall> c) {
                       c->Log(LogLevel::kDebug, "hidden at info");
                       c->Log(LogLevel::kWarning, "shown");
                       c->Progress(1, 2, "half");
                       c->Finish({{"content", Json::array({TextContent("done")})}});
                       c->Progress(2, 2);  // after the end: dropped
                     }});
  Message m;
  m.id = 9;
  m.method = "tools/call";
  m.params = {{"name", "work"}, {"_meta", {{"progressToken", "tok"}}}};
  auto out = std::make_shared<RecordingOutbound>();
  McpServer server(options_, catalog_);
  EXPECT_EQ(server.HandleRequest(m, context_, out), nullptr);  // finished at once
  ASSERT_EQ(out->sent.size(), 2u);
  EXPECT_EQ(out->sent[0]["method"], "notifications/message");
  EXPECT_EQ(out->sent[0]["params"]["level"], "warning");
  EXPECT_EQ(out->sent[1]["params"], (Json{{"progressToken", "tok"}, {"progress", 1}, {"total", 2}, {"message", "half"}}));
  EXPECT_EQ(out->final["result"]["content"][0]["text"], "done");

  EXPECT_EQ(Call("logging/setLevel", {{"level", "error"}})["result"], Json::object());
  EXPECT_EQ(session_->log_level(), LogLevel::kError);
  EXPECT_EQ(Call("logging/setLevel", {{"level", "loud"}})["error"]["code"], rpc_error::kInvalidParams);
}

TEST_F(McpServerTest, CancellationStopsTheToolAndSuppressesTheResponse) {
  std::shared_ptr<ToolCall> running;
  bool stopped = false;
  catalog_->AddTool({{{"name", "slow"}}, "", [&](std::shared_ptr<ToolCall> c) {
                       running = c;
                       c->OnCancel([&] { stopped = true; });
                     }});
  Message m;
  m.id = "r1";
  m.method = "tools/call";
  m.params = {{"name", "slow"}};
  auto out = std::make_shared<RecordingOutbound>();
  McpServer server(options_, catalog_);
  auto cancel = server.HandleRequest(m, context_, out);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(out->finishes, 0);

  Message duplicate = m;  // the same id again while in flight
  auto dup_out = std::make_shared<RecordingOutbound>();
  server.HandleRequest(duplicate, context_, dup_out);
  EXPECT_EQ(dup_out->final["error"]["code"], rpc_error::kInvalidRequest);

  Message note;
  note.kind = Message::Kind::kNotification;
  note.method = "notifications/cancelled";
  note.params = {{"requestId", "r1"}, {"reason", "user"}};
  server.HandleNotification(note, context_);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out->finishes, 1);
  EXPECT_TRUE(out->final.is_null());  // no response for a cancelled request
  running->Finish({{"content", Json::array()}});
  EXPECT_EQ(out->finishes, 1);
}

TEST_F(McpServerTest, ClientRequestsAreAnsweredThroughTheSession) {
  Result<Json> reply = UnavailableError("none yet");
  catalog_->AddTool({{{"name", "ask"}}, "", [&](std::shared_ptr<ToolCall> c) {
                       c->Request("sampling/createMessage", {{"maxTokens", 5}}, [&, c](Result<Json> r) {
                         reply = r;
                         c->Finish({{"content", Json::array()}});
                       });
                     }});
  Message m;
  m.id = 4;
  m.method = "tools/call";
  m.params = {{"name", "ask"}};
  auto out = std::make_shared<RecordingOutbound>();
  McpServer server(options_, catalog_);
  server.HandleRequest(m, context_, out);
  ASSERT_EQ(out->sent.size(), 1u);
  EXPECT_EQ(out->sent[0]["method"], "sampling/createMessage");
  Message answer;
  answer.kind = Message::Kind::kResponse;
  answer.id = out->sent[0]["id"];
  answer.result = {{"role", "assistant"}};
  server.HandleNotification(answer, context_);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ((*reply)["role"], "assistant");
  EXPECT_EQ(out->finishes, 1);
  // An answer to nothing is ignored.
  EXPECT_FALSE(session_->ResolveClientRequest(answer.id, Json::object()));
}

TEST_F(McpServerTest, ResourcesTemplatesAndCompletion) {
  catalog_->AddResource({{{"uri", "test://a"}, {"name", "a"}},
                         [](const std::string& uri, Caller&) -> Result<Json> {
                           return Json::array({{{"uri", uri}, {"text", "A"}}});
                         }});
  catalog_->AddResourceTemplate(
      {{{"uriTemplate", "test://t/{id}/data"}, {"name", "t"}},
       [](const std::string& uri, Caller&) -> Result<Json> {
         auto vars = MatchUriTemplate("test://t/{id}/data", uri);
         return Json::array({{{"uri", uri}, {"text", "id=" + (*vars)["id"]}}});
       },
       [](const std::string&, const std::string& value, const Json&, const Caller&) {
         std::vector<std::string> out;
         for (std::string v : {"alpha", "beta", "alps"}) {
           if (v.rfind(value, 0) == 0) out.push_back(v);
         }
         return out;
       }});
  EXPECT_EQ(Call("resources/read", {{"uri", "test://a"}})["result"]["contents"][0]["text"], "A");
  EXPECT_EQ(Call("resources/read", {{"uri", "test://t/42/data"}})["result"]["contents"][0]["text"], "id=42");
  Json missing = Call("resources/read", {{"uri", "test://t//data"}});
  EXPECT_EQ(missing["error"]["code"], rpc_error::kResourceNotFound);
  EXPECT_EQ(Call("resources/templates/list")["result"]["resourceTemplates"].size(), 1u);

  Json c = Call("completion/complete", {{"ref", {{"type", "ref/resource"}, {"uri", "test://t/{id}/data"}}},
                                        {"argument", {{"name", "id"}, {"value", "al"}}}});
  EXPECT_EQ(c["result"]["completion"]["values"], (Json{"alpha", "alps"}));
  EXPECT_EQ(c["result"]["completion"]["total"], 2);
  EXPECT_EQ(Call("completion/complete", {{"ref", {{"type", "ref/prompt"}, {"name", "none"}}},
                                         {"argument", {{"name", "x"}, {"value", ""}}}})["error"]["code"],
            rpc_error::kInvalidParams);

  EXPECT_EQ(Call("resources/subscribe", {{"uri", "test://a"}})["result"], Json::object());
  EXPECT_TRUE(session_->Subscribed("test://a"));
}

TEST_F(McpServerTest, ResourcesAndCompletionsShowOnlyWhatTheCallerMayUse) {
  class Limited : public TrustedCaller {
   public:
    bool Allows(std::string_view p) const override { return p != "metrics:read"; }
    bool MayUseModel(std::string_view m) const override { return m == "mine"; }
  };
  auto read = [](const std::string& uri, Caller&) -> Result<Json> { return Json::array({{{"uri", uri}}}); };
  for (std::string model : {"mine", "theirs"}) {
    catalog_->AddResource({{{"uri", "m://" + model}, {"name", model}}, read,
                           [model](const Caller& c) { return c.MayUseModel(model); }});
  }
  catalog_->AddResource({{{"uri", "m://metrics"}, {"name", "metrics"}}, read,
                         [](const Caller& c) { return c.Allows("metrics:read"); }});
  catalog_->AddResource({{{"uri", "m://open"}, {"name", "open"}}, read});
  catalog_->AddResourceTemplate({{{"uriTemplate", "m://{name}"}, {"name", "t"}}, read,
                                 [](const std::string&, const std::string&, const Json&, const Caller& c) {
                                   std::vector<std::string> out;
                                   for (std::string m : {"mine", "theirs"}) {
                                     if (c.MayUseModel(m)) out.push_back(m);
                                   }
                                   return out;
                                 }});
  auto uris = [&] {
    std::vector<std::string> out;
    const Json listed = Call("resources/list");  // kept alive for the loop
    for (const Json& r : listed["result"]["resources"]) out.push_back(r["uri"]);
    return out;
  };
  const Json complete = {{"ref", {{"type", "ref/resource"}, {"uri", "m://{name}"}}},
                         {"argument", {{"name", "name"}, {"value", ""}}}};
  EXPECT_EQ(uris(), (std::vector<std::string>{"m://mine", "m://theirs", "m://metrics", "m://open"}));
  EXPECT_EQ(Call("completion/complete", complete)["result"]["completion"]["values"], (Json{"mine", "theirs"}));

  context_.caller = std::make_shared<Limited>();
  EXPECT_EQ(uris(), (std::vector<std::string>{"m://mine", "m://open"}));
  EXPECT_EQ(Call("completion/complete", complete)["result"]["completion"]["values"], (Json{"mine"}));
}

// Found while writing fuzz/mcp_message_fuzz (which checks that no message makes McpServer
// throw): completion/complete read its members with json::value(), which throws on a member of
// another type; over the gRPC MCP stream nothing catches it and the server stopped.
// A handler that throws is a defect; the request is still answered once, as an internal error,
// and the exception does not reach the transport (over gRPC it ended the server).
TEST_F(McpServerTest, AHandlerThatThrowsIsAnsweredWithAnInternalError) {
  catalog_->AddResource({{{"uri", "test://throws"}, {"name", "throws"}},
                         [](const std::string&, Caller&) -> Result<Json> {
                           return Json(1).at("missing");  // nlohmann throws type_error
                         }});
  catalog_->AddPrompt({{{"name", "throws"}, {"arguments", Json::array()}},
                       [](const Json&, const Json&) -> Result<Json> {
                         throw std::runtime_error("renderer defect");
                       },
                       nullptr});
  Json read = Call("resources/read", {{"uri", "test://throws"}}, "r");
  EXPECT_EQ(read["id"], "r");
  EXPECT_EQ(read["error"]["code"], rpc_error::kInternalError);
  Json get = Call("prompts/get", {{"name", "throws"}}, 7);
  EXPECT_EQ(get["id"], 7);
  EXPECT_EQ(get["error"]["code"], rpc_error::kInternalError);
  EXPECT_EQ(get["error"]["message"], std::string(kHandlerDefect) + "renderer defect");
  // The same server goes on answering.
  EXPECT_EQ(Call("ping")["result"], Json::object());
}

TEST_F(McpServerTest, CompletionMembersOfTheWrongTypeAreInvalidParams) {
  catalog_->AddPrompt({{{"name", "p"}},
                       [](const Json&, const Json&) -> Result<Json> { return Json::object(); },
                       [](const std::string&, const std::string&, const Json&, const Caller&) {
                         return std::vector<std::string>{"x"};
                       }});
  const Json ref{{"type", "ref/prompt"}, {"name", "p"}};
  const Json argument{{"name", "a"}, {"value", ""}};
  for (const Json& params :
       {Json{{"ref", {{"type", 1}}}, {"argument", argument}},
        Json{{"ref", {{"type", "ref/prompt"}, {"name", true}}}, {"argument", argument}},
        Json{{"ref", {{"type", "ref/resource"}, {"uri", Json::array()}}}, {"argument", argument}},
        Json{{"ref", ref}, {"argument", {{"name", 7}}}},
        Json{{"ref", ref}, {"argument", {{"name", "a"}, {"value", {{"v", 1}}}}}},
        Json{{"ref", ref}, {"argument", argument}, {"context", 3}},
        Json{{"ref", ref}, {"argument", argument}, {"context", {{"arguments", "x"}}}}}) {
    EXPECT_EQ(Call("completion/complete", params)["error"]["code"], rpc_error::kInvalidParams)
        << params.dump();
  }
  // Absent and null members still mean "not given".
  Json ok =
      Call("completion/complete",
           {{"ref", ref}, {"argument", {{"name", "a"}, {"value", nullptr}}}, {"context", nullptr}});
  EXPECT_EQ(ok["result"]["completion"]["values"], (Json{"x"}));
}

// The conformance fixtures read what the client sends without assuming its types: a prompt
// argument or a client's reply of another type is no exception.
TEST_F(McpServerTest, ConformanceFixturesTakeClientValuesOfAnyType) {
  AddConformanceFixtures(*catalog_);
  Json prompt = Call("prompts/get", {{"name", "test_prompt_with_arguments"},
                                     {"arguments", {{"arg1", 1}, {"arg2", {{"x", 2}}}}}});
  EXPECT_TRUE(prompt.contains("result")) << prompt.dump();
  Json topic = Call("prompts/get", {{"name", "test_input_required_result_prompt"},
                                    {"inputResponses", {{"topic", {{"content", 5}}}}}});
  EXPECT_TRUE(topic.contains("result")) << topic.dump();

  session_->SetNegotiated("2025-11-25", {{"sampling", Json::object()}}, Json::object());
  Message m;
  m.id = 9;
  m.method = "tools/call";
  m.params = {{"name", "test_sampling"}, {"arguments", {{"prompt", 42}}}};
  auto out = std::make_shared<RecordingOutbound>();
  McpServer server(options_, catalog_);
  server.HandleRequest(m, context_, out);
  ASSERT_EQ(out->sent.size(), 1u);
  Message reply;
  reply.kind = Message::Kind::kResponse;
  reply.id = out->sent[0]["id"];
  reply.result = "not an object";
  server.HandleNotification(reply, context_);
  ASSERT_EQ(out->finishes, 1);
  EXPECT_EQ(out->final["result"]["content"][0]["text"], "LLM response: ");
}

TEST(UriTemplateTest, MatchesLevelOneTemplates) {
  auto v = MatchUriTemplate("llmux://models/{name}", "llmux://models/qwen3-0.6b");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["name"], "qwen3-0.6b");
  EXPECT_FALSE(MatchUriTemplate("llmux://models/{name}", "llmux://models/a/b"));
  EXPECT_FALSE(MatchUriTemplate("llmux://models/{name}", "llmux://models/"));
  EXPECT_FALSE(MatchUriTemplate("llmux://models/{name}", "other://models/x"));
  auto two = MatchUriTemplate("x://{a}-{b}/end", "x://one-two/end");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ((*two)["a"], "one");
  EXPECT_EQ((*two)["b"], "two");
}

}  // namespace
}  // namespace llmux::mcp
