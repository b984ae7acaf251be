#include "engine/tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {
namespace {

std::vector<std::string> SplitWith(const PreTokenizer& pre, const std::string& text) {
  const std::vector<uint32_t> cpts = DecodeUtf8Lenient(text);
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t len : pre.Split(cpts)) {
    words.push_back(
        EncodeUtf8(std::vector<uint32_t>(cpts.begin() + start, cpts.begin() + start + len)));
    start += len;
  }
  EXPECT_EQ(start, cpts.size());
  return words;
}

std::unique_ptr<PreTokenizer> Make(std::string_view name) {
  auto pre = PreTokenizer::Create(name);
  EXPECT_TRUE(pre.ok()) << pre.status().ToString();
  return pre.ok() ? std::move(pre).value() : nullptr;
}

using Words = std::vector<std::string>;

TEST(PreTokenizerTest, Qwen2) {
  auto pre = Make("qwen2");
  ASSERT_NE(pre, nullptr);
  EXPECT_EQ(SplitWith(*pre, "Hello world"), (Words{"Hello", " world"}));
  EXPECT_EQ(SplitWith(*pre, "I'm you'RE it's"), (Words{"I", "'m", " you", "'RE", " it", "'s"}));
  EXPECT_EQ(SplitWith(*pre, "x'y"), (Words{"x", "'y"}));  // not a contraction: ' prefixes a word
  EXPECT_EQ(SplitWith(*pre, "2024"), (Words{"2", "0", "2", "4"}));
  EXPECT_EQ(SplitWith(*pre, "  hi"), (Words{" ", " hi"}));
  EXPECT_EQ(SplitWith(*pre, "a   "), (Words{"a", "   "}));
  EXPECT_EQ(SplitWith(*pre, "a\n\n  b"), (Words{"a", "\n\n", " ", " b"}));
  EXPECT_EQ(SplitWith(*pre, "wow!!!\n\nok"), (Words{"wow", "!!!\n\n", "ok"}));
  EXPECT_EQ(SplitWith(*pre, "f(x) = 1"), (Words{"f", "(x", ")", " =", " ", "1"}));
  EXPECT_EQ(SplitWith(*pre, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c"),
            (Words{"\xe4\xbd\xa0\xe5\xa5\xbd", "\xef\xbc\x8c"}));  // 你好，
  EXPECT_EQ(SplitWith(*pre, ""), Words{});
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThree) {
  auto pre = Make("llama-bpe");
  ASSERT_NE(pre, nullptr);
  EXPECT_EQ(SplitWith(*pre, "1234567"), (Words{"123", "456", "7"}));
  EXPECT_EQ(SplitWith(*pre, "in 2024, 12"), (Words{"in", " ", "202", "4", ",", " ", "12"}));
}

TEST(PreTokenizerTest, DeepseekV3) {
  auto pre = Make("deepseek-v3");
  ASSERT_NE(pre, nullptr);
  EXPECT_EQ(SplitWith(*pre, "1234567"), (Words{"123", "456", "7"}));
  // 世界 is cut out by the CJK step; then "Hello, " splits into word, punctuation, space.
  EXPECT_EQ(SplitWith(*pre, "Hello, \xe4\xb8\x96\xe7\x95\x8c!"),
            (Words{"Hello", ",", " ", "\xe4\xb8\x96\xe7\x95\x8c", "!"}));
  // ASCII punctuation glued to a following ASCII word; a space before other words.
  EXPECT_EQ(SplitWith(*pre, "a.b x_y"), (Words{"a", ".b", " x", "_y"}));
  EXPECT_EQ(SplitWith(*pre, "caf\xc3\xa9!?\n"), (Words{"caf\xc3\xa9", "!?\n"}));
  // '~' is a symbol (Sm), so "~~" is one run of \p{S}, as in Hugging Face tokenizers and
  // transformers.js (llama.cpp 81ff7ab leaves '~' out and splits "~", "~b").
  EXPECT_EQ(SplitWith(*pre, "a~~b"), (Words{"a", "~~", "b"}));
}

TEST(PreTokenizerTest, UnknownNameIsUnimplemented) {
  auto pre = PreTokenizer::Create("no-such-pre");
  ASSERT_FALSE(pre.ok());
  EXPECT_EQ(pre.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(PreTokenizer::Create("").ok());  // llama.cpp's default regexes
  EXPECT_TRUE(PreTokenizer::Create("gpt2").ok());
}

TEST(CollapsePatternTest, ReplacesClasses) {
  bool uses = false;
  auto out = CollapsePattern("\\p{N}+|[^\\s\\p{L}]", &uses);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(uses);
  EXPECT_EQ(*out, "[\\xD1\\x30-\\x39]+|[^\\s\\xD2\\x41-\\x5A\\x61-\\x7A]");
  out = CollapsePattern("[a-z]+", &uses);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(uses);
  EXPECT_FALSE(CollapsePattern("\\p{Greek}", &uses).ok());
}

// ---------------------------------------------------------------------------------------
// Cross-checks against an independent oracle: PCRE2 running the original regexes directly on
// UTF-8 with Unicode properties (UTF + UCP). Its tables are Unicode 14 and its \s is "Z or
// \t\n\v\f\r", so the random texts only use characters on which those agree with ours.

class PcreOracle {
 public:
  explicit PcreOracle(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
    EXPECT_NE(code_, nullptr) << "error " << error << " at " << offset;
  }
  ~PcreOracle() { pcre2_code_free(code_); }
  // Matches and the unmatched stretches between them.
  Words Split(const std::string& s) const {
    Words out;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t last = 0, pos = 0;
    while (pos <= s.size() && pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(),
                                          pos, 0, md, nullptr) >= 0) {
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      if (ov[1] == ov[0]) break;  // the patterns here never match empty
      if (ov[0] > last) out.push_back(s.substr(last, ov[0] - last));
      out.push_back(s.substr(ov[0], ov[1] - ov[0]));
      last = pos = ov[1];
    }
    if (last < s.size()) out.push_back(s.substr(last));
    pcre2_match_data_free(md);
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
};

Words SplitSequential(const std::vector<const PcreOracle*>& steps, const std::string& text) {
  Words pieces = {text};
  if (text.empty()) return {};
  for (const PcreOracle* step : steps) {
    Words next;
    for (const auto& p : pieces) {
      for (auto& w : step->Split(p)) next.push_back(std::move(w));
    }
    pieces = std::move(next);
  }
  return pieces;
}

const char* const kPool[] = {
    "a",
    "b",
    "z",
    "Q",
    "s",
    "t",
    "m",
    "d",
    "r",
    "e",
    "v",
    "l",
    "S",
    "T",
    "M",
    "D",
    "R",
    "E",
    "V",
    "L",
    "0",
    "7",
    "9",
    " ",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "\r",
    "'",
    "'",
    ".",
    ",",
    "!",
    "?",
    "-",
    "_",
    "(",
    ")",
    "$",
    "+",
    "<",
    ">",
    "\"",
    "#",
    "@",
    "\x01",
    "\x1f",
    "\xc3\xa9",          // é
    "\xc3\x9f",          // ß
    "\xe4\xb8\xad",      // 中
    "\xe3\x81\x82",      // あ
    "\xe3\x82\xab",      // カ
    "\xed\x95\x9c",      // 한
    "\xd8\xa7",          // ا
    "\xcc\x81",          // combining acute
    "\xd9\xa3",          // ٣
    "\xef\xbc\x95",      // ５
    "\xc2\xb2",          // ²
    "\xf0\x9f\x98\x80",  // 😀
    "\xe2\x80\x8d",      // ZWJ
    "\xc2\xa9",          // ©
    "\xc2\xa0",          // NBSP
    "\xe3\x80\x80",      // ideographic space
    "\xe2\x80\xa8",      // line separator
    "\xe2\x80\x83",      // em space
    "\xe2\x82\xac",      // €
    "\xc2\xab",          // «
    "\xef\xbc\x8c",      // ，
    "\xcd\xb8",          // U+0378, unassigned
};

std::string RandomText(std::mt19937& rng) {
  std::uniform_int_distribution<size_t> len_dist(0, 24);
  std::uniform_int_distribution<size_t> pick(0, std::size(kPool) - 1);
  std::string s;
  for (size_t n = len_dist(rng); n > 0; --n) s += kPool[pick(rng)];
  return s;
}

const char kQwen2Regex[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char kLlama3Regex[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

TEST(PreTokenizerOracleTest, HandWrittenQwen2AndLlama3MatchTheRegex) {
  auto qwen2 = Make("qwen2");
  auto llama3 = Make("llama3");
  ASSERT_TRUE(qwen2 && llama3);
  PcreOracle qwen2_re(kQwen2Regex), llama3_re(kLlama3Regex);
  std::mt19937 rng(12345);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = RandomText(rng);
    ASSERT_EQ(SplitWith(*qwen2, text), SplitSequential({&qwen2_re}, text)) << "text: " << text;
    ASSERT_EQ(SplitWith(*llama3, text), SplitSequential({&llama3_re}, text)) << "text: " << text;
  }
}

TEST(PreTokenizerOracleTest, DeepseekV3MatchesTheRegexes) {
  auto pre = Make("deepseek-v3");
  ASSERT_NE(pre, nullptr);
  PcreOracle digits("\\p{N}{1,3}");
  PcreOracle cjk("[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+");
  PcreOracle main_re(
      "[!\"#$%&'()*+,\\-./"
      ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
      " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+");
  std::mt19937 rng(777);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = RandomText(rng);  // the pool has no '~' (see DeepseekV3 above)
    ASSERT_EQ(SplitWith(*pre, text), SplitSequential({&digits, &cjk, &main_re}, text))
        << "text: " << text;
  }
}

// llama.cpp runs a pre-tokenizer either hand-written or as a regex over collapsed text; both
// paths must agree. Here every code point is allowed (our own tables on both sides).
TEST(PreTokenizerOracleTest, CollapsedRegexEngineMatchesHandWritten) {
  auto regex = RegexSplitter::Create(kQwen2Regex);
  ASSERT_TRUE(regex.ok()) << regex.status().ToString();
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint32_t> any(1, 0x10FFFF);
  std::uniform_int_distribution<int> kind(0, 3);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint32_t> cpts;
    for (int n = static_cast<int>(rng() % 20); n > 0; --n) {
      uint32_t c = any(rng);
      if (kind(rng) != 0) c = DecodeUtf8Lenient(kPool[rng() % std::size(kPool)])[0];
      if (c >= 0xD800 && c <= 0xDFFF) c = 0x85;  // NEL: whitespace only by White_Space
      cpts.push_back(c);
    }
    std::vector<CharInfo> info;
    for (uint32_t c : cpts) info.push_back(GetCharInfo(c));
    std::vector<size_t> hand;
    SplitGpt4Style(cpts, info, 0, cpts.size(), 1, hand);
    const std::vector<size_t> via_regex =
        cpts.empty() ? std::vector<size_t>{} : (*regex)->Split(RegexText(cpts), {cpts.size()});
    ASSERT_EQ(hand, via_regex) << "case " << i;
  }
}

}  // namespace
}  // namespace llmux::tokenizer

namespace llmux::tokenizer {
namespace {

// Long runs must neither blow PCRE2's (JIT) stack nor fall back to one giant piece.
TEST(PreTokenizerTest, LongRunsThroughTheRegexEngine) {
  auto pre = Make("deepseek-v3");
  ASSERT_NE(pre, nullptr);
  const std::string spaces(200000, ' ');
  EXPECT_EQ(SplitWith(*pre, spaces + "x"), (Words{std::string(199999, ' '), " x"}));
  std::string digits(300000, '7');
  const Words digit_words = SplitWith(*pre, digits);
  ASSERT_EQ(digit_words.size(), 100000u);
  EXPECT_EQ(digit_words.back(), "777");
  std::string mixed;
  for (int i = 0; i < 20000; ++i) mixed += "ab, \xe4\xb8\xad\n";
  const Words mixed_words = SplitWith(*pre, mixed);
  // Each "ab, 中\n" gives "ab" "," " " "中" "\n" (the CJK step cuts 中 out first).
  ASSERT_EQ(mixed_words.size(), 20000u * 5);
  EXPECT_EQ(mixed_words[4], "\n");
}

}  // namespace
}  // namespace llmux::tokenizer
