#include "gateway/ollama/ollama_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "gateway/ollama/ollama_routes.h"

namespace llmux::gateway {
namespace {

using Json = nlohmann::json;

Json ParseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n') << "an NDJSON line ends with a newline";
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line only: " << line;
  return Json::parse(line);
}

serving::ModelInfo Stories() {
  serving::ModelInfo m;
  m.id = "stories";
  m.architecture = "llama";
  m.quantization = "F32";
  m.context_length = 512;
  m.created = 1700000000;  // 2023-11-14T22:13:20Z
  m.ready = true;
  m.size_bytes = 1185376;
  m.parameter_count = 292352;
  return m;
}

TEST(OllamaFormatTest, ChatLinesHaveOllamasFields) {
  OllamaMeta meta{"stories", "2023-08-04T08:52:19.385406455Z"};
  OllamaPiece piece;
  serving::Delta d;
  d.content = "The";
  d.reasoning = "hmm";
  piece.Add(d);
  Json line = ParseLine(OllamaChatLine(meta, piece));
  EXPECT_EQ(line["model"], "stories");
  EXPECT_EQ(line["created_at"], "2023-08-04T08:52:19.385406455Z");
  EXPECT_EQ(line["message"]["role"], "assistant");
  EXPECT_EQ(line["message"]["content"], "The");
  EXPECT_EQ(line["message"]["thinking"], "hmm");
  EXPECT_EQ(line["done"], false);
  EXPECT_FALSE(line.contains("done_reason"));

  serving::Finish finish;
  finish.reason = serving::FinishReason::kLength;
  finish.usage.prompt_tokens = 26;
  finish.usage.completion_tokens = 298;
  OllamaTimings t{4883583458, 1334875, 342546000, 4535599000};
  Json done = ParseLine(OllamaChatDoneLine(meta, OllamaPiece{}, finish, t));
  EXPECT_EQ(done["done"], true);
  EXPECT_EQ(done["done_reason"], "length");
  EXPECT_EQ(done["message"]["content"], "");
  EXPECT_EQ(done["total_duration"], 4883583458);
  EXPECT_EQ(done["load_duration"], 1334875);
  EXPECT_EQ(done["prompt_eval_count"], 26);
  EXPECT_EQ(done["prompt_eval_duration"], 342546000);
  EXPECT_EQ(done["eval_count"], 298);
  EXPECT_EQ(done["eval_duration"], 4535599000);

  finish.reason = serving::FinishReason::kToolCalls;
  EXPECT_EQ(ParseLine(OllamaChatDoneLine(meta, OllamaPiece{}, finish, t))["done_reason"], "stop");
  finish.reason = serving::FinishReason::kCancelled;
  EXPECT_EQ(ParseLine(OllamaChatDoneLine(meta, OllamaPiece{}, finish, t))["done_reason"], "stop");
}

TEST(OllamaFormatTest, ToolCallsAreWholeWithObjectArguments) {
  OllamaPiece piece;
  serving::Delta a, b;
  a.tool_calls.push_back({0, "call_1", "get_current_weather", "{\"location\": \"Par"});
  b.tool_calls.push_back({0, "", "", "is, FR\"}"});
  b.tool_calls.push_back({1, "call_2", "noop", ""});
  piece.Add(a);
  piece.Add(b);
  Json line = ParseLine(OllamaChatLine(OllamaMeta{"m", "t"}, piece));
  const Json& calls = line["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0]["function"]["name"], "get_current_weather");
  EXPECT_EQ(calls[0]["function"]["arguments"], Json({{"location", "Paris, FR"}}));
  EXPECT_EQ(calls[1]["function"]["name"], "noop");
  EXPECT_EQ(calls[1]["function"]["arguments"], Json::object());
}

TEST(OllamaFormatTest, GenerateLinesCarryResponse) {
  OllamaMeta meta{"stories", "t"};
  OllamaPiece piece;
  piece.content = "Once";
  Json line = ParseLine(OllamaGenerateLine(meta, piece));
  EXPECT_EQ(line["response"], "Once");
  EXPECT_EQ(line["done"], false);
  EXPECT_FALSE(line.contains("message"));
  serving::Finish finish;
  Json done = ParseLine(OllamaGenerateDoneLine(meta, piece, finish, OllamaTimings{}));
  EXPECT_EQ(done["response"], "Once");
  EXPECT_EQ(done["done_reason"], "stop");

  // Ollama's answer to a generate without a prompt ("Load a model" in its API docs).
  Json load = ParseLine(OllamaLoadedLine(meta, /*chat=*/false));
  EXPECT_EQ(load["response"], "");
  EXPECT_EQ(load["done"], true);
  EXPECT_EQ(load["done_reason"], "load");
  Json chat_load = ParseLine(OllamaLoadedLine(meta, /*chat=*/true));
  EXPECT_EQ(chat_load["message"]["content"], "");
  EXPECT_EQ(chat_load["done_reason"], "load");
}

TEST(OllamaFormatTest, BrokenUtf8IsReplacedNotThrown) {
  OllamaPiece piece;
  piece.content = "\xE4\xB8";  // half a character, as a token can end
  std::string line;
  ASSERT_NO_THROW(line = OllamaChatLine(OllamaMeta{"m", "t"}, piece));
  EXPECT_NO_THROW(Json::parse(line));
}

TEST(OllamaFormatTest, TagsPsAndShowDescribeTheModel) {
  Json tags = Json::parse(OllamaTagsJson({Stories()}));
  ASSERT_EQ(tags["models"].size(), 1u);
  const Json& m = tags["models"][0];
  EXPECT_EQ(m["name"], "stories:latest");
  EXPECT_EQ(m["model"], "stories:latest");
  EXPECT_EQ(m["modified_at"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(m["size"], 1185376);
  EXPECT_EQ(m["digest"].get<std::string>().size(), 64u);
  EXPECT_EQ(m["digest"].get<std::string>().find_first_not_of("0123456789abcdef"),
            std::string::npos);
  EXPECT_EQ(m["details"]["format"], "gguf");
  EXPECT_EQ(m["details"]["family"], "llama");
  EXPECT_EQ(m["details"]["families"], Json::array({"llama"}));
  EXPECT_EQ(m["details"]["parameter_size"], "292K");
  EXPECT_EQ(m["details"]["quantization_level"], "F32");

  serving::ModelInfo loading = Stories();
  loading.id = "other";
  loading.ready = false;
  Json ps = Json::parse(OllamaPsJson({Stories(), loading}));
  ASSERT_EQ(ps["models"].size(), 1u) << "a model still loading is not running";
  EXPECT_EQ(ps["models"][0]["name"], "stories:latest");
  EXPECT_EQ(ps["models"][0]["size"], 1185376);
  EXPECT_GT(ps["models"][0]["expires_at"].get<std::string>(), "2300") << "never unloaded";
  // With a keep-alive counting down: that time, and the KV cache in the size.
  Json timed = Json::parse(OllamaPsJson({Stories()}, {{"stories", {1700000000.5, 5000000}}}));
  EXPECT_EQ(timed["models"][0]["expires_at"], "2023-11-14T22:13:20.500000000Z");
  EXPECT_EQ(timed["models"][0]["size"], 5000000);

  Json show = Json::parse(OllamaShowJson(Stories()));
  EXPECT_EQ(show["details"]["family"], "llama");
  EXPECT_EQ(show["model_info"]["general.architecture"], "llama");
  EXPECT_EQ(show["model_info"]["general.parameter_count"], 292352);
  EXPECT_EQ(show["model_info"]["llama.context_length"], 512);
  EXPECT_NE(show["modelfile"].get<std::string>().find("FROM stories:latest"), std::string::npos);
  EXPECT_NE(show["parameters"].get<std::string>().find("num_ctx 512"), std::string::npos);
  EXPECT_EQ(show["capabilities"], Json::array({"completion"}));

  EXPECT_EQ(Json::parse(OllamaVersionJson("0.6.4")), Json({{"version", "0.6.4"}}));
}

TEST(OllamaFormatTest, ParameterSizeReadsLikeOllamas) {
  EXPECT_EQ(ParameterSizeText(0), "");
  EXPECT_EQ(ParameterSizeText(292352), "292K");
  EXPECT_EQ(ParameterSizeText(7241732096), "7.2B");
  EXPECT_EQ(ParameterSizeText(8000000000), "8B");
  EXPECT_EQ(ParameterSizeText(8030261248), "8.0B");    // llama3.1:8b in Ollama's list
  EXPECT_EQ(ParameterSizeText(751632384), "751.63M");  // qwen3:0.6b in Ollama's list
  EXPECT_EQ(ParameterSizeText(135000000), "135M");
}

TEST(OllamaFormatTest, Rfc3339) {
  EXPECT_EQ(Rfc3339Utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339Utc(1700000000, 5), "2023-11-14T22:13:20.000000005Z");
  const std::string now = Rfc3339Now();
  EXPECT_EQ(now.size(), std::string("2023-11-14T22:13:20.000000005Z").size()) << now;
}

TEST(OllamaFormatTest, ErrorsAreOllamasShapeWithTheRightStatus) {
  EXPECT_EQ(Json::parse(OllamaErrorJson("model \"x\" not found")),
            Json({{"error", "model \"x\" not found"}}));
  http::Response r = OllamaErrorResponse(NotFoundError("model \"x\" not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["error"], "model \"x\" not found");
  EXPECT_EQ(r.content_type.rfind("application/json", 0), 0u);
  EXPECT_EQ(OllamaErrorResponse(InvalidArgumentError("bad")).status, 400);
  EXPECT_EQ(OllamaErrorResponse(UnauthenticatedError("who")).status, 401);
  EXPECT_EQ(OllamaErrorResponse(PermissionDeniedError("no")).status, 403);
  EXPECT_EQ(OllamaErrorResponse(ResourceExhaustedError("slow down")).status, 429);
  EXPECT_EQ(OllamaErrorResponse(UnimplementedError("no embeddings")).status, 501);
  EXPECT_EQ(OllamaServerErrorResponse(413, "too big").status, 413);
  EXPECT_EQ(Json::parse(OllamaServerErrorResponse(413, "too big").body),
            Json({{"error", "too big"}}));
}

}  // namespace
}  // namespace llmux::gateway
