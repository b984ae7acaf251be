// Property tests on the real vocabularies: random text round-trips and bad input never crashes.
#include <random>

#include "engine/tokenizer/unicode.h"
#include "vectors_util.h"

namespace llmux {
namespace {

const char* const kPieces[] = {
    "a",
    "Z",
    "9",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "'s",
    "'LL",
    ".",
    ",",
    "!",
    "~",
    "(",
    "<",
    "|",
    ">",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</tool_call>",
    "<|endoftext|>",
    "<|im_sta",
    "\xc3\xa9",
    "e\xcc\x81",
    "\xe4\xb8\xad\xe6\x96\x87",
    "\xe3\x81\x82",
    "\xed\x95\x9c",
    "\xd9\xa3",
    "\xf0\x9f\x98\x80",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
    "\xc2\xa0",
    "\xe3\x80\x80",
    "\xc2\x85",
    "123456",
    "hello",
    " world",
    "\x01",
    "\x7f",
};

std::string RandomText(std::mt19937& rng) {
  std::string s;
  for (int n = static_cast<int>(rng() % 30); n > 0; --n) s += kPieces[rng() % std::size(kPieces)];
  return s;
}

std::string RandomBytes(std::mt19937& rng) {
  std::string s(rng() % 40, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(RoundTripTest, Qwen3IsLossless) {
  auto tok = testing::LoadTokenizer("models/qwen3-vocab.gguf");
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(2024);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = RandomText(rng);
    for (bool parse_special : {true, false}) {
      const auto ids = tok->Encode(text, true, parse_special);
      ASSERT_EQ(tok->Decode(ids), text) << "parse_special=" << parse_special;
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
    }
  }
}

TEST(RoundTripTest, Qwen3RandomBytesBecomeReplacementChars) {
  auto tok = testing::LoadTokenizer("models/qwen3-vocab.gguf");
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string bytes = RandomBytes(rng);
    const std::string expected = tokenizer::EncodeUtf8(tokenizer::DecodeUtf8Lenient(bytes));
    ASSERT_EQ(tok->Decode(tok->Encode(bytes, true, true)), expected);
  }
}

TEST(RoundTripTest, StoriesValidUtf8IsLossless) {
  auto tok = testing::LoadTokenizer("models/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    // Valid UTF-8 (without U+2581) comes back exactly, through <0xNN> pieces where needed.
    const std::string text = RandomText(rng);
    const auto ids = tok->Encode(text, true, false);
    ASSERT_FALSE(ids.empty());
    ASSERT_EQ(ids[0], 1);
    ASSERT_EQ(tok->Decode(std::span<const int32_t>(ids).subspan(1)), text);
    // Random bytes must not crash. They need not round-trip: as in llama.cpp, a stray UTF-8
    // lead byte before a space swallows the first byte of the escaped space (U+2581).
    const std::string bytes = RandomBytes(rng);
    for (int32_t id : tok->Encode(bytes, true, true)) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
  }
}

}  // namespace
}  // namespace llmux
