#include "gateway/request/request_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace llmux::gateway::request_fields {
namespace {

constexpr FieldReader kPlain({
    .type_error = "bad type at {0}: want {1}, have {2}",
    .out_of_range = "{0} too big: {1}",
    .not_json = "not json",
    .not_object = "not an object",
});

constexpr FieldReader kStrict({
    .type_error = "want {1}",
    .out_of_range = "out of range",
    .not_json = "not json",
    .not_object = "not an object",
    .prefix_path = true,
    .integral_floats = false,
});

Json Body(const char* text) { return Json::parse(text); }

TEST(RequestFieldsTest, AbsentAndNullAreNotGiven) {
  const Json b = Body(R"({"a": null, "b": 1})");
  EXPECT_EQ(Field(b, "a"), nullptr);
  EXPECT_EQ(Field(b, "missing"), nullptr);
  ASSERT_NE(Field(b, "b"), nullptr);
  auto s = kPlain.GetString(b, "a", "a");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
}

TEST(RequestFieldsTest, BodyErrorsUseTheWording) {
  EXPECT_EQ(kPlain.ParseBody("{").status().message(), "not json");
  EXPECT_EQ(kPlain.ParseBody("[1]").status().message(), "not an object");
  EXPECT_EQ(kPlain.ParseBody(std::string(5000, '[') + std::string(5000, ']')).status().code(),
            StatusCode::kInvalidArgument);
  auto ok = kPlain.ParseBody(R"({"x": 1})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at("x"), 1);
}

TEST(RequestFieldsTest, TypeErrorsNameThePathAndTheType) {
  const Json b = Body(R"({"s": 3, "b": "yes"})");
  auto s = kPlain.GetString(b, "s", "outer.s");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "bad type at outer.s: want a string, have number");
  EXPECT_EQ(s.status().field(), "outer.s");
  auto bo = kStrict.GetBool(b, "b", "b");
  ASSERT_FALSE(bo.ok());
  EXPECT_EQ(bo.status().message(), "b: want a boolean");
  EXPECT_EQ(kStrict.Invalid("x.y", "Field required").message(), "x.y: Field required");
  EXPECT_EQ(kPlain.Invalid("x.y", "Field required").message(), "Field required");
}

TEST(RequestFieldsTest, Integers) {
  const Json b = Body(
      R"({"i": -7, "f": 2.0, "half": 2.5, "huge_f": 1e16, "u": 18446744073709551615,
          "big": 5000000000, "flag": true})");
  EXPECT_EQ(**kPlain.GetInteger(b, "i", "i"), -7);
  EXPECT_EQ(**kPlain.GetInteger(b, "f", "f"), 2);
  // A float with no fraction is an integer only where the wording takes them.
  EXPECT_EQ(kStrict.GetInteger(b, "f", "f").status().message(), "f: want an integer");
  EXPECT_EQ(kPlain.GetInteger(b, "half", "half").status().message(),
            "bad type at half: want an integer, have number");
  EXPECT_EQ(kPlain.GetInteger(b, "flag", "flag").status().message(),
            "bad type at flag: want an integer, have boolean");
  // Past what a double holds exactly, past int64, past the caller's bounds, past int.
  EXPECT_FALSE(kPlain.GetInteger(b, "huge_f", "huge_f").ok());
  EXPECT_EQ(kPlain.GetInteger(b, "u", "u").status().message(), "u too big: 18446744073709551615");
  EXPECT_EQ(kPlain.GetInteger(b, "i", "i", 0, 10).status().message(), "i too big: -7");
  EXPECT_EQ(**kPlain.GetInteger(b, "big", "big"), 5000000000);
  EXPECT_EQ(kPlain.GetInt(b, "big", "big").status().message(), "big too big: 5000000000");
  EXPECT_EQ(kStrict.GetInt(b, "big", "big").status().message(), "big: out of range");
  EXPECT_EQ(**kPlain.GetInt(b, "i", "i"), -7);
}

TEST(RequestFieldsTest, Floats) {
  const Json b = Body(R"({"t": 0.5, "n": 3, "huge": 1e39, "s": "0.5"})");
  EXPECT_EQ(**kPlain.GetFloat(b, "t", "t"), 0.5f);
  EXPECT_EQ(**kPlain.GetFloat(b, "n", "n"), 3.0f);
  auto huge = kPlain.GetFloat(b, "huge", "huge");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().field(), "huge");
  EXPECT_EQ(kPlain.GetFloat(b, "s", "s").status().message(),
            "bad type at s: want a number, have string");
}

}  // namespace
}  // namespace llmux::gateway::request_fields
