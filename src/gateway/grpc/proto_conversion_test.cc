// Conversions that need no server: UTF-8 repair, logprob bytes, status mapping.
#include "gateway/grpc/proto_conversion.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include "gateway/grpc/status_mapping.h"
#include "llmux/v1/inference.pb.h"

namespace llmux::gateway {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(SanitizeUtf8Test, KeepsWellFormedText) {
  const std::string text = "plain, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF";
  EXPECT_EQ(SanitizeUtf8(text), text);
  EXPECT_EQ(SanitizeUtf8(""), "");
}

TEST(SanitizeUtf8Test, ReplacesEachMaximalBadSubpartOnce) {
  // A character cut at the end of a token: one replacement for the whole stub.
  EXPECT_EQ(SanitizeUtf8("a\xE2\x82"), "a" + kFffd);
  EXPECT_EQ(SanitizeUtf8("a\xF0\x9F\x98"
                         "b"),
            "a" + kFffd + "b");
  // A lone continuation byte and bytes that never start a character.
  EXPECT_EQ(SanitizeUtf8("\x80x"), kFffd + "x");
  EXPECT_EQ(SanitizeUtf8("\xFF\xFE"), kFffd + kFffd);
  // Overlong "/" (C0 AF), a UTF-16 surrogate (ED A0 80) and U+110000 (F4 90 80 80) are not
  // UTF-8; each byte becomes its own replacement, as Unicode recommends.
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  // The replacement never swallows a following valid character.
  EXPECT_EQ(SanitizeUtf8("\xE2\xC3\xA9"), kFffd + "\xC3\xA9");
}

TEST(FillDeltaTest, LogprobTokensKeepRawBytesAndValidText) {
  serving::Delta delta;
  serving::TokenLogprob token;
  token.token = "\xE2\x82";  // first two bytes of the euro sign
  token.logprob = -0.5f;
  token.top.push_back({"\xE2\x82", -0.5f});
  token.top.push_back({"x", -2.0f});
  delta.logprobs.push_back(token);
  v1::ChatDelta out;
  FillDelta(delta, &out);
  ASSERT_EQ(out.logprobs_size(), 1);
  EXPECT_EQ(out.logprobs(0).token(), kFffd);
  EXPECT_EQ(out.logprobs(0).bytes(), "\xE2\x82");
  ASSERT_EQ(out.logprobs(0).top_logprobs_size(), 2);
  EXPECT_EQ(out.logprobs(0).top_logprobs(0).bytes(), "\xE2\x82");
  EXPECT_EQ(out.logprobs(0).top_logprobs(1).token(), "x");
  // The message must serialize and parse back (protobuf rejects invalid UTF-8 strings).
  v1::ChatDelta parsed;
  ASSERT_TRUE(parsed.ParseFromString(out.SerializeAsString()));
  EXPECT_EQ(parsed.logprobs(0).bytes(), "\xE2\x82");
}

TEST(FillDeltaTest, CompletionTextIncludesAnyReasoningFirst) {
  serving::Delta delta;
  delta.reasoning = "hmm ";
  delta.content = "yes";
  v1::CompleteDelta out;
  FillDelta(delta, &out);
  EXPECT_EQ(out.text(), "hmm yes");
}

TEST(ProtoConversionTest, ChatRequestErrorsNameTheField) {
  v1::ChatRequest r;
  r.set_model("m");
  r.add_messages()->set_role("user");
  r.mutable_sampling()->set_top_k(-3);
  Result<serving::ChatRequest> got = ChatRequestFromProto(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().field(), "top_k");

  r.mutable_sampling()->clear_top_k();
  r.set_n(3);
  got = ChatRequestFromProto(r);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().field(), "n");

  r.clear_n();
  EXPECT_TRUE(ChatRequestFromProto(r).ok());
}

TEST(StatusMappingTest, CodesAndMessages) {
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
  const std::vector<std::pair<Status, grpc::StatusCode>> cases = {
      {InvalidArgumentError("bad"), grpc::StatusCode::INVALID_ARGUMENT},
      {NotFoundError("missing"), grpc::StatusCode::NOT_FOUND},
      {ResourceExhaustedError("full"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {UnimplementedError("later"), grpc::StatusCode::UNIMPLEMENTED},
      {OutOfRangeError("far"), grpc::StatusCode::OUT_OF_RANGE},
      {UnavailableError("loading"), grpc::StatusCode::UNAVAILABLE},
      {DataLossError("corrupt"), grpc::StatusCode::INTERNAL},
      {IoError("disk"), grpc::StatusCode::INTERNAL},
      {InternalError("bug"), grpc::StatusCode::INTERNAL},
  };
  for (const auto& [status, code] : cases) {
    grpc::Status mapped = ToGrpcStatus(status);
    EXPECT_EQ(mapped.error_code(), code) << status.ToString();
    EXPECT_EQ(mapped.error_message(), status.message());
  }
}

TEST(StatusMappingTest, FieldIsNamedWhenTheMessageDoesNot) {
  EXPECT_EQ(ToGrpcStatus(InvalidArgumentError("unknown role 'x'").WithField("messages[1].role"))
                .error_message(),
            "messages[1].role: unknown role 'x'");
  EXPECT_EQ(
      ToGrpcStatus(InvalidArgumentError("top_k must be >= 0").WithField("top_k")).error_message(),
      "top_k must be >= 0");
}

}  // namespace
}  // namespace llmux::gateway
