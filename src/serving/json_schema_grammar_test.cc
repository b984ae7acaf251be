#include "serving/json_schema_grammar.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmux::serving {
namespace {

std::shared_ptr<const grammar::Grammar> Compile(const std::string& schema, bool strict = false) {
  auto g = CompileJsonSchema(schema, strict);
  EXPECT_TRUE(g.ok()) << schema << ": " << g.status().ToString();
  return g.ok() ? *g : nullptr;
}

bool Matches(const grammar::Grammar& g, const std::string& text) {
  auto r = grammar::GrammarMatches(g, text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && *r;
}

void ExpectLanguage(const std::string& schema, const std::vector<std::string>& yes,
                    const std::vector<std::string>& no) {
  auto g = Compile(schema);
  ASSERT_TRUE(g);
  for (const std::string& t : yes) EXPECT_TRUE(Matches(*g, t)) << schema << " should take " << t;
  for (const std::string& t : no) EXPECT_FALSE(Matches(*g, t)) << schema << " should refuse " << t;
}

std::string ErrorOf(const std::string& schema, bool strict = false) {
  auto g = CompileJsonSchema(schema, strict);
  EXPECT_FALSE(g.ok()) << schema;
  return g.ok() ? "" : g.status().message();
}

TEST(JsonSchemaGrammarTest, ObjectPropertiesInSchemaOrderOptionalOmitted) {
  ExpectLanguage(
      R"({"type":"object","properties":{"b":{"type":"integer"},"a":{"type":"string"},
          "c":{"type":"boolean"}},"required":["a"]})",
      {R"({"a":"x"})", R"({"b":1,"a":""})", R"({"b": -20, "a": "q", "c": true})",
       R"({ "a" : "x" , "c" : false })", R"({"a":"\u00e9\n"})"},
      {R"({})", R"({"a":"x","b":1})", R"({"b":1})", R"({"a":"x",})", R"({"a":"x","d":1})",
       R"({"a":"\ud800"})", "{\"a\":\"\x01\"}", R"({"a":1})"});
}

TEST(JsonSchemaGrammarTest, FramedSchemasEachWithItsOwnRefs) {
  auto g = CompileFramedSchemas(
      {{"<a>", R"({"type":"object","properties":{"n":{"$ref":"#/$defs/x"}},"required":["n"],
                  "$defs":{"x":{"type":"integer"}}})",
        "</a>"},
       {"<b>", R"({"type":"object","properties":{"s":{"$ref":"#/$defs/x"}},"required":["s"],
                  "$defs":{"x":{"type":"string"}}})",
        "</b>"}},
      false);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(Matches(**g, R"(<a>{"n": 5}</a>)"));
  EXPECT_TRUE(Matches(**g, R"(<b>{"s":"x"}</b>)"));
  EXPECT_FALSE(Matches(**g, R"(<a>{"n":"x"}</a>)"));  // each frame resolves its own $defs
  EXPECT_FALSE(Matches(**g, R"(<b>{"s":5}</b>)"));
  EXPECT_FALSE(Matches(**g, R"(<a>{"n":5}</b>)"));
  EXPECT_FALSE(Matches(**g, R"({"n":5})"));
  EXPECT_FALSE(CompileFramedSchemas({}, false).ok());
  auto list = CompileFramedSchemas({{"(", R"({"type":"integer"})", ")"}}, false,
                                   FramedList{"[", ",", "]", 3});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Matches(**list, "[(1)]"));
  EXPECT_TRUE(Matches(**list, "[(1),(2),(3)]"));
  EXPECT_FALSE(Matches(**list, "[(1),(2),(3),(4)]"));
  EXPECT_FALSE(Matches(**list, "[]"));
  EXPECT_FALSE(CompileFramedSchemas({{"", "{", ""}}, false).ok());
}

TEST(JsonSchemaGrammarTest, ArraysWithBounds) {
  ExpectLanguage(R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3})",
                 {"[1,2]", "[1, 2, 3]", "[ 0 ,-1 ]"},
                 {"[]", "[1]", "[1,2,3,4]", "[1,2,]", "[1.5,2]"});
  ExpectLanguage(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"null"}],
                     "items":false})",
                 {"[]", R"(["a"])", R"(["a",null])"}, {R"([null])", R"(["a",null,null])"});
}

TEST(JsonSchemaGrammarTest, StringLengthsAndFormats) {
  ExpectLanguage(R"({"type":"string","minLength":2,"maxLength":3})",
                 {R"("ab")", R"("abc")", R"("é\n")", "\"\xe4\xb8\xad\xe6\x96\x87\""},
                 {R"("a")", R"("abcd")", R"("")"});
  ExpectLanguage(R"({"type":"string","format":"date"})",
                 {R"("2024-02-28")", R"("1999-12-31")", R"("0001-04-30")"},
                 {R"("2024-02-30")", R"("2024-13-01")", R"("2024-04-31")", R"("24-01-01")"});
  ExpectLanguage(R"({"type":"string","format":"date-time"})",
                 {R"("2024-01-01T10:20:30Z")", R"("2024-01-01T23:59:59.123+05:30")"},
                 {R"("2024-01-01T24:00:00Z")", R"("2024-01-01T10:20:30")"});
  ExpectLanguage(R"({"type":"string","format":"uuid"})",
                 {R"("123e4567-e89b-12d3-a456-426614174000")"},
                 {R"("123e4567e89b12d3a456426614174000")"});
  ExpectLanguage(R"({"type":"string","format":"email"})",
                 {R"("ab@c.io")", R"("x_1@mail.example.com")"}, {R"("@c.io")", R"("a@b")"});
}

TEST(JsonSchemaGrammarTest, IntegerAndNumberBoundsAreExact) {
  ExpectLanguage(R"({"type":"integer","minimum":-15,"maximum":230})",
                 {"-15", "-1", "0", "9", "10", "99", "100", "199", "229", "230"},
                 {"-16", "-0x", "231", "300", "1000", "00", "01", "-"});
  ExpectLanguage(R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10})", {"1", "9"},
                 {"0", "10"});
  ExpectLanguage(R"({"type":"number","minimum":0,"maximum":1})",
                 {"0", "1", "0.5", "0.25", "0.0001"}, {"1.5", "-0.5", "2", "1.0001", "0.50"});
  ExpectLanguage(R"({"type":"number","minimum":-2.5,"exclusiveMaximum":3})",
                 {"-2", "-1.5", "-0.5", "2", "2.75", "0"}, {"3", "3.5", "-3", "-2.75"});
  EXPECT_NE(ErrorOf(R"({"type":"integer","minimum":5,"maximum":4})").find("no integer"),
            std::string::npos);
}

TEST(JsonSchemaGrammarTest, EnumConstAnyOfAndRefs) {
  ExpectLanguage(R"({"enum":["red","green",3,null,{"a":[1]}]})",
                 {R"("red")", R"("green")", "3", "null", R"({"a":[1]})"},
                 {R"("re")", R"("blue")", "4", R"({"a": [1]})"});
  ExpectLanguage(R"({"const":"x"})", {R"("x")"}, {R"("y")"});
  ExpectLanguage(R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})",
                 {"12", R"("a")"}, {R"("ab")", "true"});
  ExpectLanguage(R"({"type":["string","null"]})", {R"("s")", "null"}, {"1"});
  // A recursive tree through $defs.
  ExpectLanguage(
      R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
          "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
          "required":["v"]}}})",
      {R"({"v":1})", R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]})"}, {R"({"v":1,"kids":[{}]})"});
}

TEST(JsonSchemaGrammarTest, AnyValueAndAdditionalProperties) {
  ExpectLanguage(R"({})", {"1", R"({"a":[true,null,"x",{"b":-1.5e3}]})", "[]"}, {"", "nul"});
  // Beside declared properties, extra ones are never generated, even where allowed.
  ExpectLanguage(R"({"type":"object","properties":{"a":{"type":"null"}},
                     "additionalProperties":true})",
                 {"{}", R"({"a":null})"}, {R"({"b":1})"});
  // Without declared properties: any members, or members whose values follow the schema.
  ExpectLanguage(R"({"type":"object"})",
                 {"{}", R"({"a":1})", R"({ "a" : [1, {"b": null}], "c\n": "x", "a": false })"},
                 {"[]", R"({"a"})", R"({"a":1,})", R"({1:2})"});
  ExpectLanguage(R"({"type":"object","additionalProperties":{"type":"integer","minimum":0}})",
                 {"{}", R"({"x":0,"y":12})"}, {R"({"x":-1})", R"({"x":"1"})"});
  ExpectLanguage(R"({"type":"object","additionalProperties":false})", {"{}"}, {R"({"a":1})"});
  // Strict (OpenAI's strict mode asks for additionalProperties false): only where it says so.
  auto strict = Compile(R"({"type":"object"})", /*strict=*/true);
  ASSERT_TRUE(strict);
  EXPECT_TRUE(Matches(*strict, "{}"));
  EXPECT_FALSE(Matches(*strict, R"({"a":1})"));
  auto strict_map = Compile(R"({"type":"object","additionalProperties":{"type":"string"}})", true);
  ASSERT_TRUE(strict_map);
  EXPECT_TRUE(Matches(*strict_map, R"({"a":"b"})"));
}

TEST(JsonSchemaGrammarTest, ErrorsNameTheKeywordAndPlace) {
  EXPECT_NE(
      ErrorOf(R"({"type":"string","pattern":"^a+$","maxLength":3})").find("'pattern' together"),
      std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"object","properties":{"a":{"type":"integer","multipleOf":3}}})",
                    /*strict=*/true)
                .find("unsupported keyword 'multipleOf' at /properties/a"),
            std::string::npos);
  EXPECT_TRUE(CompileJsonSchema(R"({"type":"integer","multipleOf":3})", false).ok());
  EXPECT_NE(ErrorOf(R"({"type":"strin"})").find("unknown type 'strin'"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"object","properties":{},"required":["x"]})").find("'x'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$ref":"#/$defs/missing"})").find("not defined"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$ref":"http://example.com/s.json"})").find("not supported"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":)").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"string","format":"hostname"})", true).find("format"),
            std::string::npos);
}

TEST(JsonSchemaGrammarTest, HostileSchemasFailCleanly) {
  // A recursive $ref that can never end.
  EXPECT_NE(ErrorOf(R"({"$ref":"#/$defs/a","$defs":{"a":{"type":"object",
                        "properties":{"x":{"$ref":"#/$defs/a"}},"required":["x"]}}})")
                .find("can never finish"),
            std::string::npos);
  // A $ref loop that consumes nothing.
  EXPECT_FALSE(CompileJsonSchema(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},
                                     "b":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}})",
                                 false)
                   .ok());
  // Deep nesting.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"type":"array","items":)";
  deep += "{}";
  for (int i = 0; i < 100; ++i) deep += "}";
  EXPECT_NE(ErrorOf(deep).find("deeper"), std::string::npos);
  std::string too_deep(5000, '[');
  EXPECT_FALSE(CompileJsonSchema(too_deep, false).ok());
  // A huge enum with shared prefixes: compiles and matches with few stacks.
  std::string big = R"({"enum":[)";
  for (int i = 0; i < 3000; ++i)
    big += (i ? "," : "") + std::string("\"item-") + std::to_string(i) + "\"";
  big += "]}";
  auto g = Compile(big);
  ASSERT_TRUE(g);
  EXPECT_TRUE(Matches(*g, R"("item-2999")"));
  EXPECT_FALSE(Matches(*g, R"("item-3000")"));
  // Past the enum size limit.
  std::string huge = R"({"enum":[)";
  for (int i = 0; i < 10000; ++i)
    huge += (i ? "," : "") + std::string("\"xxxxxxxxxx-") + std::to_string(i) + "\"";
  huge += "]}";
  EXPECT_NE(ErrorOf(huge).find("'enum' longer"), std::string::npos);
  // Too many repetitions.
  EXPECT_FALSE(CompileJsonSchema(R"({"type":"array","maxItems":100000})", false).ok());
  // An anyOf of many overlapping branches: too many parse stacks open at once.
  std::string wide = R"({"anyOf":[)";
  for (int i = 0; i < 400; ++i) {
    wide += (i ? "," : "") + std::string(R"({"type":"string","maxLength":)") +
            std::to_string(i % 7 + 1) + "}";
  }
  wide += "]}";
  EXPECT_NE(ErrorOf(wide).find("parse stacks"), std::string::npos);
  // Expansions past the rule limit.
  std::string many = R"({"anyOf":[)";
  for (int i = 0; i < 40; ++i) {
    many += (i ? "," : "") + std::string(R"({"type":"array","maxItems":4000})");
  }
  many += "]}";
  EXPECT_NE(ErrorOf(many).find("rules"), std::string::npos);
}

}  // namespace
}  // namespace llmux::serving
