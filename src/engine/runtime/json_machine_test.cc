#include "engine/runtime/json_machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::constraint {
namespace {

bool ParsesAsObject(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !j.is_discarded() && j.is_object();
}

std::string Nested(int depth) {
  std::string s = "{\"a\":";
  for (int i = 1; i < depth; ++i) s += "[";
  s += "1";
  for (int i = 1; i < depth; ++i) s += "]";
  return s + "}";
}

TEST(JsonMachineTest, AcceptsValidObjects) {
  const std::vector<std::string> valid = {
      "{}",
      " \n\t\r{}",
      "{\"a\":1}",
      "{ \"a\" : 1 , \"b\" : [ ] , \"c\" : { } }",
      "{\"\":\"\"}",
      "{\"a\":[1,2.5,-0.0e+10,0,-0,1E5,1e-5,12.0E-07,true,false,null,\"x\"]}",
      "{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\uD83D\\uDE00\\u0000\"}",
      "{\"utf8\":\"\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xEF\xBF\xBF "
      "\xF4\x8F\xBF\xBF\"}",
      "{\"del\":\"\x7F\"}",
      "{\"a\":{\"b\":{\"c\":[[],[{}],\"d\"]}}}",
      "{\"n\":[1234567890123456789012345678901234567890]}",
      Nested(kMaxJsonDepth),
      "{\"pretty\": {\n    \"x\": [\n        1,\n        2\n    ]\n}\n}",
  };
  for (const std::string& text : valid) {
    EXPECT_TRUE(JsonMatches(text)) << text;
    EXPECT_TRUE(ParsesAsObject(text)) << "test table is wrong: " << text;
  }
}

TEST(JsonMachineTest, RejectsInvalidJson) {
  const std::vector<std::string> invalid = {
      "",
      "[]",
      "\"x\"",
      "1",
      "null",
      "{",
      "{\"a\":1",
      "{\"a\":1,}",
      "{\"a\":[1,]}",
      "{,}",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\" 1}",
      "{a:1}",
      "{'a':1}",
      "{\"a\":01}",
      "{\"a\":-01}",
      "{\"a\":00}",
      "{\"a\":1.}",
      "{\"a\":.5}",
      "{\"a\":1e}",
      "{\"a\":1e+}",
      "{\"a\":+1}",
      "{\"a\":-}",
      "{\"a\":1.2.3}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\U0041\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\u12G4\"}",
      "{\"a\":\"\\uD800\"}",
      "{\"a\":\"\\uDBFF\\u0041\"}",
      "{\"a\":\"\\uDC00\"}",
      "{\"a\":\"\\uDFFF\\uD800\"}",
      "{\"a\":\"\\uD800\\uD800\"}",
      "{\"a\":\"line\nbreak\"}",
      "{\"a\":\"tab\there\"}",
      "{\"a\":\"\xC0\x80\"}",          // overlong NUL
      "{\"a\":\"\xE0\x80\xAF\"}",      // overlong '/'
      "{\"a\":\"\xED\xA0\x80\"}",      // UTF-8 encoded surrogate
      "{\"a\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
      "{\"a\":\"\xF5\x80\x80\x80\"}",
      "{\"a\":\"\x80\"}",      // lone continuation byte
      "{\"a\":\"\xE4\xB8\"}",  // truncated character
      "{\"a\":\"\xFF\"}",
      "{\"a\":tru}",
      "{\"a\":True}",
      "{\"a\":nul}",
      "{\"a\":nulll}",
      "{\"a\":1}}",
      "{\"a\":1} x",
      "{\"a\":1}{}",
      "{\"a\":[1}",
      "{\"a\":{]}",
      "{\"a\":[}]",
      "{\"a\":1 2}",
      "{\"a\":\"unterminated}",
      "{\"a\":NaN}",
      "{\"a\":Infinity}",
      "{\"a\":0x10}",
  };
  // Not accepted by policy, though some parsers (nlohmann) take them.
  const std::vector<std::string> refused = {
      "\xEF\xBB\xBF{}",  // byte order mark
      "{\"a\":1}\n",     // trailing whitespace is the sequence's business, not the object's
  };
  for (const std::string& text : refused) EXPECT_FALSE(JsonMatches(text)) << text;
  for (const std::string& text : invalid) {
    EXPECT_FALSE(JsonMatches(text)) << text;
  }
  // Every entry is invalid JSON for nlohmann too (the table tests the machine, this keeps the
  // table honest).
  for (const std::string& text : invalid) {
    EXPECT_FALSE(ParsesAsObject(text)) << "test table is wrong: " << text;
  }
}

// Joins parts (GCC 12 warns wrongly about `"literal" + std::string(...)` chains).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) s.append(p);
  return s;
}

TEST(JsonMachineTest, EnforcesLimits) {
  EXPECT_TRUE(JsonMatches(Nested(kMaxJsonDepth)));
  EXPECT_FALSE(JsonMatches(Nested(kMaxJsonDepth + 1)));
  const std::string ws(kMaxJsonWhitespaceRun, ' ');
  const std::string nl(kMaxJsonWhitespaceRun, '\n');
  EXPECT_TRUE(JsonMatches(Cat({"{\"a\":", ws, "1}"})));
  EXPECT_FALSE(JsonMatches(Cat({"{\"a\":", ws, " 1}"})));
  // Whitespace runs are counted per run, not in total.
  EXPECT_TRUE(JsonMatches(Cat({"{", nl, "\"a\"", ws, ":1}"})));
  const std::string digits(kMaxJsonIntegerDigits, '7');
  EXPECT_TRUE(JsonMatches(Cat({"{\"a\":", digits, "}"})));
  EXPECT_FALSE(JsonMatches(Cat({"{\"a\":", digits, "7}"})));
  const std::string frac(kMaxJsonFractionDigits, '3');
  EXPECT_TRUE(JsonMatches(Cat({"{\"a\":0.", frac, "}"})));
  EXPECT_FALSE(JsonMatches(Cat({"{\"a\":0.", frac, "3}"})));
  EXPECT_TRUE(JsonMatches("{\"a\":9e99}"));
  EXPECT_FALSE(JsonMatches("{\"a\":9e999}"));  // would overflow a double
  // The largest number the limits allow is still finite for nlohmann.
  const std::string biggest = Cat({"{\"a\":-", digits, ".", frac, "E+99}"});
  EXPECT_TRUE(JsonMatches(biggest));
  EXPECT_TRUE(ParsesAsObject(biggest));
}

// Surrogate escapes are refused at the first digit that rules out a valid completion, so the
// machine never accepts a prefix that cannot be finished.
TEST(JsonMachineTest, RejectsBadSurrogatesEarly) {
  JsonState s;
  ASSERT_TRUE(JsonFeed(s, "{\"a\":\"\\uD"));
  JsonState lone_low = s;
  EXPECT_FALSE(JsonStep(lone_low, 'C'));
  JsonState high = s;
  ASSERT_TRUE(JsonFeed(high, "83D"));
  EXPECT_FALSE(JsonStep(high, '"'));  // a low half must follow
  ASSERT_TRUE(JsonStep(high, '\\'));
  EXPECT_FALSE(JsonStep(high, 'n'));
  ASSERT_TRUE(JsonStep(high, 'u'));
  JsonState not_d = high;
  EXPECT_FALSE(JsonStep(not_d, '0'));
  ASSERT_TRUE(JsonStep(high, 'd'));
  JsonState high_again = high;
  EXPECT_FALSE(JsonStep(high_again, 'B'));
  EXPECT_TRUE(JsonFeed(high, "e00\"}"));
  EXPECT_TRUE(JsonComplete(high));
}

// A random walk that at each step picks among the bytes the machine accepts: every accepted
// prefix must have a continuation, and every completed text must parse.
TEST(JsonMachineTest, RandomWalksAlwaysFinishAndParse) {
  std::mt19937 rng(7);
  std::vector<uint8_t> choices;
  for (int walk = 0; walk < 300; ++walk) {
    JsonState s;
    std::string text;
    const int budget = 5 + static_cast<int>(rng() % 200);
    while (!JsonComplete(s)) {
      choices.clear();
      for (int b = 0; b < 256; ++b) {
        JsonState t = s;
        if (JsonStep(t, static_cast<uint8_t>(b))) choices.push_back(static_cast<uint8_t>(b));
      }
      ASSERT_FALSE(choices.empty()) << "dead end after: " << text;
      uint8_t pick = choices[rng() % choices.size()];
      if (static_cast<int>(text.size()) > budget) {
        // Steer towards closing: quotes and closing brackets when they are allowed.
        for (uint8_t closer : {'"', '}', ']'}) {
          if (std::find(choices.begin(), choices.end(), closer) != choices.end()) {
            pick = closer;
            break;
          }
        }
      }
      ASSERT_TRUE(JsonStep(s, pick));
      text += static_cast<char>(pick);
      ASSERT_LT(text.size(), 100000u);
    }
    EXPECT_TRUE(ParsesAsObject(text)) << text;
    EXPECT_TRUE(JsonMatches(text));
  }
}

// StringSuffixesOk may only claim what the machine does: a suffix marked ok is accepted from
// inside a string and leaves the machine still inside it.
TEST(JsonMachineTest, StringSuffixesAgreeWithMachine) {
  const std::vector<uint8_t> alphabet = {'a',  ' ',  '"',  '\\', '\n', 0x7F, 0xC3, 0xA9,
                                         0xE0, 0xA0, 0x80, 0xED, 0x9F, 0xF0, 0x90, 0xF4,
                                         0x8F, 0xBF, 0xC0, 0xFF, 'u',  '0',  'D',  0x01};
  std::mt19937 rng(11);
  std::vector<uint8_t> ok;
  int ok_count = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int len = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < len; ++k) text += static_cast<char>(alphabet[rng() % alphabet.size()]);
    StringSuffixesOk(text, ok);
    ASSERT_EQ(ok.size(), text.size() + 1);
    EXPECT_TRUE(ok[text.size()]);
    for (size_t p = 0; p < text.size(); ++p) {
      JsonState s;
      ASSERT_TRUE(JsonFeed(s, "{\"k\":\""));
      const bool accepted = JsonFeed(s, text.substr(p));
      const bool in_string = accepted && (s.mode == JsonMode::kString || s.mode == JsonMode::kUtf8);
      if (ok[p]) {
        ++ok_count;
        EXPECT_TRUE(in_string) << "suffix " << p << " of a text of " << text.size();
      }
      // Plain text that the machine takes without escapes should be recognised.
      const bool plain = in_string && text.substr(p).find_first_of("\\\"") == std::string::npos;
      if (plain) {
        EXPECT_TRUE(ok[p]);
      }
    }
  }
  EXPECT_GT(ok_count, 1000);
}

}  // namespace
}  // namespace llmux::constraint
