#include "serving/request_validation.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

ChatRequest Valid() {
  ChatRequest r;
  r.model = "m";
  r.messages.push_back(chat::Message{"user", "hi", std::nullopt, {}, "", ""});
  return r;
}

std::string FieldOf(const ChatRequest& r) {
  Status s = ValidateChatRequest(r);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  return s.field();
}

TEST(RequestValidationTest, AcceptsValid) { EXPECT_TRUE(ValidateChatRequest(Valid()).ok()); }

TEST(RequestValidationTest, NamesTheFieldAtFault) {
  ChatRequest r = Valid();
  r.options.sampling.temperature = 2.5f;
  EXPECT_EQ(FieldOf(r), "temperature");
  r = Valid();
  r.options.sampling.top_p = 0.0f;
  EXPECT_EQ(FieldOf(r), "top_p");
  r = Valid();
  r.options.sampling.top_k = -1;
  EXPECT_EQ(FieldOf(r), "top_k");
  r = Valid();
  r.options.sampling.presence_penalty = -3.0f;
  EXPECT_EQ(FieldOf(r), "presence_penalty");
  r = Valid();
  r.options.max_tokens = 0;
  EXPECT_EQ(FieldOf(r), "max_tokens");
  r = Valid();
  r.options.max_tokens = -5;
  EXPECT_EQ(FieldOf(r), "max_tokens");
  r = Valid();
  r.options.stop = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(FieldOf(r), "stop");
  r = Valid();
  r.options.top_logprobs = 3;
  EXPECT_EQ(FieldOf(r), "top_logprobs");  // without logprobs
  r = Valid();
  r.messages[0].role = "wizard";
  EXPECT_EQ(FieldOf(r), "messages[0].role");
  r = Valid();
  r.messages.clear();
  EXPECT_EQ(FieldOf(r), "messages");
  r = Valid();
  r.tool_choice.mode = ToolChoiceMode::kFunction;
  r.tool_choice.function_name = "nope";
  EXPECT_EQ(FieldOf(r), "tool_choice");
}

TEST(RequestValidationTest, Completion) {
  CompletionRequest r;
  r.model = "m";
  EXPECT_EQ(ValidateCompletionRequest(r).field(), "prompt");
  r.prompt = "x";
  EXPECT_TRUE(ValidateCompletionRequest(r).ok());
  r.options.sampling.repetition_penalty = 0.0f;
  EXPECT_EQ(ValidateCompletionRequest(r).field(), "repetition_penalty");
}

}  // namespace
}  // namespace llmux::serving
