// PyJsonDumps against outputs of Python 3's json.dumps(ensure_ascii=False) and repr(float),
// written down by hand from a Python session.
#include "chat/py_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace llmux::chat {
namespace {

TEST(PyFloatReprTest, MatchesPythonRepr) {
  EXPECT_EQ(PyFloatRepr(1.0), "1.0");
  EXPECT_EQ(PyFloatRepr(100.0), "100.0");
  EXPECT_EQ(PyFloatRepr(0.1), "0.1");
  EXPECT_EQ(PyFloatRepr(0.3), "0.3");
  EXPECT_EQ(PyFloatRepr(3.14159), "3.14159");
  EXPECT_EQ(PyFloatRepr(123.456), "123.456");
  EXPECT_EQ(PyFloatRepr(12345678.9), "12345678.9");
  EXPECT_EQ(PyFloatRepr(0.0), "0.0");
  EXPECT_EQ(PyFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PyFloatRepr(-2.5), "-2.5");
  EXPECT_EQ(PyFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PyFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PyFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PyFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PyFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PyFloatRepr(1e22), "1e+22");
  EXPECT_EQ(PyFloatRepr(1e300), "1e+300");
  EXPECT_EQ(PyFloatRepr(2.5e-300), "2.5e-300");
  EXPECT_EQ(PyFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PyFloatRepr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(PyFloatRepr(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(PyFloatRepr(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(PyFloatRepr(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(PyJsonDumpsTest, OneLineLayoutAndEscapes) {
  Json v = Json::parse(R"({"a": [1, 2.5, {"b": null, "c": true}], "d": {}, "e": [],
      "s": "x\u0001\u001f\u007f\"\\\n\r\t\b\f é 北京 \u2028"})");
  EXPECT_EQ(PyJsonDumps(v),
            "{\"a\": [1, 2.5, {\"b\": null, \"c\": true}], \"d\": {}, \"e\": [], "
            "\"s\": \"x\\u0001\\u001f\x7f\\\"\\\\\\n\\r\\t\\b\\f é 北京 \xE2\x80\xA8\"}");
}

TEST(PyJsonDumpsTest, KeepsKeyOrderAndIntegers) {
  Json v = Json::parse(R"({"z": -5, "a": 18446744073709551615, "m": 9007199254740993})");
  EXPECT_EQ(PyJsonDumps(v), R"({"z": -5, "a": 18446744073709551615, "m": 9007199254740993})");
  EXPECT_EQ(PyJsonDumps(Json("plain")), "\"plain\"");
  EXPECT_EQ(PyJsonDumps(Json(false)), "false");
}

TEST(PyJsonDumpsTest, IndentedLayout) {
  Json v = Json::parse(
      R"({"type": "function", "function": {"name": "f", "parameters": {"type": "object",
          "properties": {}, "required": ["x"]}}, "n": []})");
  EXPECT_EQ(PyJsonDumps(v, 4),
            "{\n"
            "    \"type\": \"function\",\n"
            "    \"function\": {\n"
            "        \"name\": \"f\",\n"
            "        \"parameters\": {\n"
            "            \"type\": \"object\",\n"
            "            \"properties\": {},\n"
            "            \"required\": [\n"
            "                \"x\"\n"
            "            ]\n"
            "        }\n"
            "    },\n"
            "    \"n\": []\n"
            "}");
}

}  // namespace
}  // namespace llmux::chat
