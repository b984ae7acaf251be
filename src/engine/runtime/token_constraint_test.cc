#include "engine/runtime/token_constraint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/json_machine.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/token_bitset.h"
#include "engine/tokenizer/test_vocab.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"
#include "tests/support/thread_cpu_time.h"

namespace llmux {
namespace {

constexpr float kNegInf = -INFINITY;

// Milliseconds of this thread's CPU time: Mask() timings that ignore preemption on busy hosts.
double ThreadCpuMs() { return llmux::testing::ThreadCpuSeconds() * 1e3; }

class TokenConstraintTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const double build_start = ThreadCpuMs();
    auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    auto tok = Tokenizer::FromGguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizer_ = std::move(tok).value().release();
    const double start = ThreadCpuMs();
    vocab_ = new std::shared_ptr<const ConstraintVocab>(ConstraintVocab::Build(*tokenizer_));
    std::printf(
        "Tokenizer::FromGguf %.1f ms, ConstraintVocab::Build on %d tokens: %.1f ms CPU, "
        "%zu trie nodes\n",
        start - build_start, tokenizer_->n_vocab(), ThreadCpuMs() - start,
        (*vocab_)->trie().nodes().size());

    std::mt19937 rng(1234);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    random_logits_.resize(4);
    for (auto& v : random_logits_) {
      v.resize(tokenizer_->n_vocab());
      for (float& l : v) l = normal(rng);
    }

    // Facts about the vocabulary, found from the tokenizer alone.
    byte_token_.fill(-1);
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      const bool special = tokenizer_->IsSpecial(id);
      const bool eog = tokenizer_->IsEndOfGeneration(id);
      const std::string& piece = pieces_.emplace_back(tokenizer_->TokenToPiece(id));
      if (special && !eog) forbidden_specials_.push_back(id);
      if (eog) eog_ids_.push_back(id);
      if (!special && !eog && piece.size() == 1) {
        int32_t& slot = byte_token_[static_cast<uint8_t>(piece[0])];
        if (slot < 0) slot = id;
      }
      if (!special && !eog && piece.find_first_of("\"}]") != std::string::npos) {
        closers_.push_back(id);
      }
    }
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete tokenizer_;
  }

  static std::shared_ptr<const ConstraintVocab> vocab() { return *vocab_; }

  static int32_t Id(std::string_view text) {
    const int32_t id = tokenizer_->FindToken(text);
    EXPECT_GE(id, 0) << text;
    return id;
  }

  // Feeds text one byte-token at a time.
  static void FeedBytes(TokenConstraint& c, std::string_view text) {
    for (char ch : text) {
      const int32_t id = byte_token_[static_cast<uint8_t>(ch)];
      ASSERT_GE(id, 0);
      c.Accept(id);
    }
  }

  static std::vector<float> MaskedZeros(TokenConstraint& c, size_t extra = 0) {
    std::vector<float> logits(tokenizer_->n_vocab() + extra, 0.0f);
    c.Mask(logits);
    return logits;
  }

  static std::vector<int32_t> Allowed(const std::vector<float>& masked) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < masked.size(); ++i) {
      if (masked[i] != kNegInf) ids.push_back(static_cast<int32_t>(i));
    }
    return ids;
  }

  // Checks that hold after every Mask: no forbidden special token, and end-of-generation
  // exactly when the text is complete.
  static void CheckMask(const TokenConstraint& c, const std::vector<float>& masked,
                        const std::vector<int32_t>& allowed_specials = {}) {
    for (int32_t id : forbidden_specials_) {
      if (std::find(allowed_specials.begin(), allowed_specials.end(), id) !=
          allowed_specials.end()) {
        continue;
      }
      ASSERT_EQ(masked[id], kNegInf) << "special token allowed: " << tokenizer_->TokenText(id);
    }
    for (int32_t id : eog_ids_) {
      ASSERT_EQ(masked[id] != kNegInf, c.Complete()) << tokenizer_->TokenText(id);
    }
  }

  struct Run {
    std::string text;
    std::vector<int32_t> ids;
    bool ended = false;  // an end-of-generation token came
    double mask_ms_total = 0;
    double mask_ms_max = 0;
    int steps = 0;
  };

  // Random logits every step; after `budget` steps tokens that close strings and brackets get
  // a growing bonus so that the walk finishes.
  // With `hook`, the step is sampler.Sample(logits, &c); otherwise c.Mask() (timed) and then
  // sampler.Sample(logits).
  static Run Generate(TokenConstraint& c, Sampler& sampler, uint32_t seed, int max_steps,
                      int budget, const std::vector<int32_t>& allowed_specials = {},
                      bool hook = false) {
    Run run;
    std::mt19937 rng(seed);
    const size_t n = tokenizer_->n_vocab();
    std::vector<float> logits(n);
    for (int step = 0; step < max_steps; ++step) {
      // A random rotation of one of a few random vectors: cheap, and random enough.
      const std::vector<float>& base = random_logits_[rng() % random_logits_.size()];
      const size_t shift = rng() % n;
      std::copy(base.begin() + shift, base.end(), logits.begin());
      std::copy(base.begin(), base.begin() + shift, logits.begin() + (n - shift));
      if (step > budget) {
        const float bonus = 0.05f * static_cast<float>(step - budget);
        for (int32_t id : closers_) logits[id] += bonus;
        for (int32_t id : eog_ids_) logits[id] += bonus;
      }
      int32_t id;
      ++run.steps;
      if (hook) {
        id = sampler.Sample(logits, &c);  // leaves the masked logits behind
        CheckMask(c, logits, allowed_specials);
      } else {
        const double start = ThreadCpuMs();
        c.Mask(logits);
        const double ms = ThreadCpuMs() - start;
        run.mask_ms_total += ms;
        run.mask_ms_max = std::max(run.mask_ms_max, ms);
        CheckMask(c, logits, allowed_specials);
        id = sampler.Sample(logits);
      }
      if (::testing::Test::HasFatalFailure()) return run;
      EXPECT_NE(logits[id], kNegInf);
      run.ids.push_back(id);
      if (tokenizer_->IsEndOfGeneration(id)) {
        EXPECT_TRUE(c.Complete());
        c.Accept(id);
        run.ended = true;
        return run;
      }
      c.Accept(id);
      run.text += pieces_[id];
      sampler.Accept(id);
    }
    return run;
  }

  static SamplerParams Random(uint32_t seed) {
    SamplerParams p = SamplerParams::Greedy();
    p.temperature = 1.0f;
    p.seed = seed;
    return p;
  }

  static inline Tokenizer* tokenizer_ = nullptr;
  static inline std::shared_ptr<const ConstraintVocab>* vocab_ = nullptr;
  static inline std::array<int32_t, 256> byte_token_;
  static inline std::vector<int32_t> forbidden_specials_;
  static inline std::vector<int32_t> eog_ids_;
  static inline std::vector<int32_t> closers_;
  static inline std::vector<std::string> pieces_;  // TokenToPiece of every id
  static inline std::vector<std::vector<float>> random_logits_;
};

nlohmann::json Parse(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// Texts that leave the JSON constraint in each kind of state.
const std::vector<std::string>& StatePrefixes() {
  static const std::vector<std::string> prefixes = {
      "",
      "  ",
      "{",
      "{\"",
      "{\"key",
      "{\"key\"",
      "{\"key\":",
      "{\"a\": \"text ",
      "{\"a\": \"\\",
      "{\"a\": \"\\u00",
      "{\"a\": \"\\uD83D",
      "{\"a\": \"\\uD83D\\u",
      "{\"a\": \"\xE4",
      "{\"a\": \"\xE4\xB8",
      "{\"a\": \"\xF0\x9F",
      "{\"a\": 12",
      "{\"a\": -",
      "{\"a\": 0",
      "{\"a\": 1.5e",
      "{\"a\": 1.5e+9",
      "{\"a\": tr",
      "{\"a\": [",
      "{\"a\": [1",
      "{\"a\": [1, {\"b\": null}",
      "{\"a\": {}",
      "{\"a\": 1}",
      "{\"a\": 1}  ",
      "{\"a\": 1}    ",
  };
  return prefixes;
}

TEST_F(TokenConstraintTest, VocabularyFacts) {
  // The test relies on these; they also pin down what the trie holds.
  EXPECT_EQ(tokenizer_->n_vocab(), 151936);
  EXPECT_FALSE(forbidden_specials_.empty());
  EXPECT_FALSE(eog_ids_.empty());
  for (int b = 0; b < 256; ++b) EXPECT_GE(byte_token_[b], 0) << b;
  EXPECT_TRUE(tokenizer_->IsSpecial(Id("<tool_call>")));
  EXPECT_EQ(vocab()->special_ids().size(), forbidden_specials_.size());
  // Every plain token is in the trie once; padding tokens (empty pieces) are not.
  size_t plain = 0;
  for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
    if (!tokenizer_->IsSpecial(id) && !tokenizer_->IsEndOfGeneration(id) && !pieces_[id].empty()) {
      ++plain;
    }
  }
  EXPECT_EQ(vocab()->trie().ranked_ids().size(), plain);
  EXPECT_LT(plain, 151936u - 200u);
}

// Code points of a piece that is whole, strictly valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF) and JSON string content as it is (no control byte, quote
// or backslash); -1 otherwise.
int PlainStringChars(const std::string& piece) {
  int chars = 0;
  for (size_t i = 0; i < piece.size(); ++chars) {
    const uint8_t b = static_cast<uint8_t>(piece[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == '"' || b == '\\') return -1;
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return -1;
    }
    if (i + len > piece.size()) return -1;
    for (int k = 1; k < len; ++k) {
      const uint8_t c = static_cast<uint8_t>(piece[i + k]);
      if ((c & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return -1;
    }
    i += len;
  }
  return chars;
}

// The plain-string sets (what a mask inside a JSON string takes without walking) hold exactly
// the tokens that are whole JSON-string content with at most that many characters, and the
// second trie holds every other plain token.
TEST_F(TokenConstraintTest, PlainStringSetsHoldStringContentByCharacters) {
  std::vector<int> chars(tokenizer_->n_vocab(), -1);
  size_t plain = 0, in_strings = 0;
  for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
    if (tokenizer_->IsSpecial(id) || tokenizer_->IsEndOfGeneration(id) || pieces_[id].empty()) {
      continue;
    }
    ++plain;
    chars[id] = PlainStringChars(pieces_[id]);
    in_strings += chars[id] >= 0;
  }
  EXPECT_GT(in_strings, plain / 2);
  EXPECT_EQ(vocab()->plain_strings().size(), in_strings);
  EXPECT_EQ(vocab()->non_plain_trie().ranked_ids().size(), plain - in_strings);
  for (int32_t id : vocab()->non_plain_trie().ranked_ids()) ASSERT_LT(chars[id], 0) << id;
  TokenBitset set;
  for (uint32_t room : {0u, 1u, 2u, 3u, 7u, 15u, 16u, 17u, 31u, 200u, 0xFFFFFFFFu}) {
    const bool any = vocab()->plain_strings().Fill(room, set);
    size_t n = 0;
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      const bool expected = chars[id] >= 0 && static_cast<uint32_t>(chars[id]) <= room;
      ASSERT_EQ(set.Has(id), expected)
          << "room " << room << " token " << id << " '" << pieces_[id] << "'";
      n += expected;
    }
    EXPECT_EQ(any, n > 0) << room;
  }
}

TEST_F(TokenConstraintTest, JsonStartAllowsOnlyObjectStarts) {
  auto c = MakeJsonObjectConstraint(vocab());
  const std::vector<float> masked = MaskedZeros(*c);
  CheckMask(*c, masked);
  const std::vector<int32_t> allowed = Allowed(masked);
  ASSERT_FALSE(allowed.empty());
  bool has_brace = false;
  for (int32_t id : allowed) {
    const std::string& piece = pieces_[id];
    // Leading whitespace, then '{', then the start of a key.
    const size_t brace = piece.find_first_not_of(" \t\n\r");
    if (brace != std::string::npos) {
      EXPECT_EQ(piece[brace], '{') << piece;
      has_brace = true;
    }
  }
  EXPECT_TRUE(has_brace);
  EXPECT_NE(masked[Id("{")], kNegInf);
  EXPECT_NE(masked[Id("{\"")], kNegInf);
  EXPECT_EQ(masked[Id("[")], kNegInf);
  EXPECT_EQ(masked[Id("Hello")], kNegInf);
  EXPECT_FALSE(c->Complete());
}

TEST_F(TokenConstraintTest, EndOfGenerationOnlyWhenComplete) {
  auto c = MakeJsonObjectConstraint(vocab());
  FeedBytes(*c, "{\"a\": [1, \"x\"]");
  EXPECT_FALSE(c->Complete());
  CheckMask(*c, MaskedZeros(*c));
  FeedBytes(*c, "}");
  EXPECT_TRUE(c->Complete());
  std::vector<float> masked = MaskedZeros(*c);
  CheckMask(*c, masked);
  for (int32_t id : Allowed(masked)) {
    const std::string& piece = pieces_[id];
    const bool eog = tokenizer_->IsEndOfGeneration(id);
    EXPECT_TRUE(eog || (piece.size() <= size_t{kJsonTrailingWhitespace} &&
                        piece.find_first_not_of(" \t\n\r") == std::string::npos))
        << piece;
  }
  // After the whitespace allowance only end of generation remains.
  FeedBytes(*c, std::string(kJsonTrailingWhitespace, '\n'));
  EXPECT_TRUE(c->Complete());
  masked = MaskedZeros(*c);
  std::vector<int32_t> allowed = Allowed(masked);
  std::vector<int32_t> eog = eog_ids_;
  EXPECT_EQ(allowed, eog);
  c->Accept(eog_ids_[0]);
  EXPECT_TRUE(c->Complete());
  EXPECT_EQ(Allowed(MaskedZeros(*c)), eog);
}

TEST_F(TokenConstraintTest, DisallowedTokenFailsTheConstraint) {
  auto c = MakeJsonObjectConstraint(vocab());
  c->Accept(Id("Hello"));
  EXPECT_FALSE(c->Complete());
  EXPECT_EQ(Allowed(MaskedZeros(*c)), eog_ids_);
  // An end-of-generation token before the text is complete fails it too.
  auto d = MakeJsonObjectConstraint(vocab());
  FeedBytes(*d, "{");
  d->Accept(eog_ids_[0]);
  EXPECT_FALSE(d->Complete());
  // So does a special token inside the JSON.
  auto e = MakeJsonObjectConstraint(vocab());
  FeedBytes(*e, "{\"a\": \"");
  e->Accept(Id("<tool_call>"));
  EXPECT_FALSE(e->Complete());
  EXPECT_EQ(Allowed(MaskedZeros(*e)), eog_ids_);
}

TEST_F(TokenConstraintTest, LogitsPastTheVocabularyAreMasked) {
  auto c = MakeJsonObjectConstraint(vocab());
  const std::vector<float> masked = MaskedZeros(*c, 64);
  for (size_t i = tokenizer_->n_vocab(); i < masked.size(); ++i) EXPECT_EQ(masked[i], kNegInf);
}

// The trie walk (with its string-content shortcut) must allow exactly the tokens that a plain
// per-token check allows, in every kind of state.
TEST_F(TokenConstraintTest, MaskMatchesPerTokenCheck) {
  const std::vector<std::string>& prefixes = StatePrefixes();
  std::vector<float> masked;
  for (const std::string& prefix : prefixes) {
    auto c = MakeJsonObjectConstraint(vocab());
    FeedBytes(*c, prefix);
    masked = MaskedZeros(*c);
    // The reference: the JSON machine followed by up to kJsonTrailingWhitespace whitespace.
    const auto step = [](constraint::JsonState& s, int& trailing, uint8_t b) {
      if (!constraint::JsonComplete(s)) return constraint::JsonStep(s, b);
      return constraint::IsJsonWhitespace(b) && trailing++ < kJsonTrailingWhitespace;
    };
    constraint::JsonState base;
    int base_trailing = 0;
    for (char ch : prefix) ASSERT_TRUE(step(base, base_trailing, static_cast<uint8_t>(ch)));
    int mismatches = 0;
    for (int32_t id = 0; id < tokenizer_->n_vocab(); ++id) {
      const std::string& piece = pieces_[id];
      bool expect;
      if (tokenizer_->IsEndOfGeneration(id)) {
        expect = constraint::JsonComplete(base);
      } else if (tokenizer_->IsSpecial(id) || piece.empty()) {
        expect = false;
      } else {
        constraint::JsonState s = base;
        int trailing = base_trailing;
        expect = true;
        for (char ch : piece) {
          if (!step(s, trailing, static_cast<uint8_t>(ch))) {
            expect = false;
            break;
          }
        }
      }
      if (expect != (masked[id] != kNegInf) && ++mismatches <= 5) {
        ADD_FAILURE() << "prefix '" << prefix << "' token " << id << " '" << piece << "': expected "
                      << (expect ? "allowed" : "masked");
      }
    }
    EXPECT_EQ(mismatches, 0) << prefix;
    EXPECT_FALSE(Allowed(masked).empty()) << prefix;
  }
}

TEST_F(TokenConstraintTest, RandomSamplingAlwaysGivesAnObject) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    auto c = MakeJsonObjectConstraint(vocab());
    Sampler sampler(Random(seed));
    const Run run = Generate(*c, sampler, seed * 7919, 1500, 120);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(run.ended) << "seed " << seed << " after " << run.steps << ": " << run.text;
    const nlohmann::json j = Parse(run.text);
    ASSERT_FALSE(j.is_discarded()) << run.text;
    EXPECT_TRUE(j.is_object()) << run.text;
    EXPECT_GT(run.text.size(), 2u);
    std::printf("seed %u: %d tokens, Mask mean %.3f ms, max %.3f ms\n", seed, run.steps,
                run.mask_ms_total / run.steps, run.mask_ms_max);
  }
}

TEST_F(TokenConstraintTest, GreedyWithRandomLogitsEndsWithEog) {
  for (uint32_t seed = 11; seed <= 13; ++seed) {
    auto c = MakeJsonObjectConstraint(vocab());
    Sampler sampler(SamplerParams::Greedy());
    const Run run = Generate(*c, sampler, seed, 1500, 100, {}, /*hook=*/seed % 2 == 0);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(run.ended) << run.text;
    EXPECT_TRUE(tokenizer_->IsEndOfGeneration(run.ids.back()));
    EXPECT_TRUE(Parse(run.text).is_object()) << run.text;
  }
}

// Mask() cost on the Qwen3 vocabulary, in the states a JSON walk goes through. Reported, and
// bounded loosely (shared CI machines; sanitizer builds are much slower).
TEST_F(TokenConstraintTest, MaskTiming) {
  auto c = MakeJsonObjectConstraint(vocab());
  Sampler sampler(Random(5));
  const Run run = Generate(*c, sampler, 99, 400, 300);
  ASSERT_GT(run.steps, 0);
  const double mean = run.mask_ms_total / run.steps;
  std::printf("Mask() over %d steps: mean %.3f ms, max %.3f ms CPU time (vocab %d)\n", run.steps,
              mean, run.mask_ms_max, tokenizer_->n_vocab());
  RecordProperty("mask_mean_us", static_cast<int>(mean * 1000));
  std::vector<float> logits(tokenizer_->n_vocab());
  for (const std::string& prefix : StatePrefixes()) {
    auto d = MakeJsonObjectConstraint(vocab());
    FeedBytes(*d, prefix);
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      const double start = ThreadCpuMs();
      d->Mask(logits);
      best = std::min(best, ThreadCpuMs() - start);
    }
    std::printf("  Mask() after %-26s %7.3f ms, %zu allowed\n", ("'" + prefix + "':").c_str(), best,
                Allowed(logits).size());
  }
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(mean, 25.0);
#endif
}

TEST_F(TokenConstraintTest, ToolCallFrameWithValidNameAndArguments) {
  const std::vector<std::string> names = {"get_weather", "get_time", "search_web", "get"};
  const std::vector<int32_t> frame_specials = {Id("<tool_call>"), Id("</tool_call>")};
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    auto c = MakeSequenceConstraint(vocab(), ToolCallSegments(names));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Sampler sampler(Random(seed));
    const Run run = Generate(**c, sampler, seed * 31, 1500, 60, frame_specials, seed == 2);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(run.ended) << run.text;
    const std::string head = "<tool_call>\n{\"name\": \"";
    const std::string tail = "}\n</tool_call>";
    ASSERT_EQ(run.text.substr(0, head.size()), head) << run.text;
    ASSERT_GE(run.text.size(), head.size() + tail.size());
    ASSERT_EQ(run.text.substr(run.text.size() - tail.size()), tail) << run.text;
    const std::string body = run.text.substr(12, run.text.size() - 12 - 13);
    const nlohmann::json call = Parse(body);
    ASSERT_TRUE(call.is_object()) << body;
    ASSERT_TRUE(call.contains("name") && call["name"].is_string()) << body;
    const std::string name = call["name"];
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    ASSERT_TRUE(call.contains("arguments")) << body;
    EXPECT_TRUE(call["arguments"].is_object()) << body;
    EXPECT_EQ(call.size(), 2u);
    // The exact frame around the name.
    EXPECT_EQ(run.text.substr(0, head.size() + name.size() + 16),
              head + name + "\", \"arguments\": ");
  }
}

TEST_F(TokenConstraintTest, ToolCallAcceptsTheAddedTokensForTheFrame) {
  const int32_t open = Id("<tool_call>");
  const int32_t close = Id("</tool_call>");
  const int32_t think = Id("<think>");
  auto made = MakeSequenceConstraint(vocab(), ToolCallSegments({"lookup"}));
  ASSERT_TRUE(made.ok());
  TokenConstraint& c = **made;
  std::vector<float> masked = MaskedZeros(c);
  EXPECT_NE(masked[open], kNegInf);
  EXPECT_NE(masked[Id("<")], kNegInf);  // the literal spelled with plain tokens is fine too
  EXPECT_EQ(masked[close], kNegInf);
  EXPECT_EQ(masked[think], kNegInf);
  CheckMask(c, masked, {open});
  c.Accept(open);
  FeedBytes(c, "\n{\"name\": \"look");
  masked = MaskedZeros(c);
  EXPECT_EQ(masked[open], kNegInf);
  EXPECT_NE(masked[Id("up")], kNegInf);
  EXPECT_EQ(masked[Id("at")], kNegInf);
  FeedBytes(c, "up\", \"arguments\": {\"q\": \"");
  masked = MaskedZeros(c);
  CheckMask(c, masked);  // inside the arguments no special token at all
  FeedBytes(c, "x\"}}\n");
  masked = MaskedZeros(c);
  EXPECT_NE(masked[close], kNegInf);
  EXPECT_EQ(masked[open], kNegInf);
  EXPECT_FALSE(c.Complete());
  c.Accept(close);
  EXPECT_TRUE(c.Complete());
  EXPECT_EQ(Allowed(MaskedZeros(c)), eog_ids_);  // no trailing whitespace by default
}

TEST_F(TokenConstraintTest, NamedFunctionOnlyThatName) {
  for (uint32_t seed = 1; seed <= 2; ++seed) {
    auto c = MakeSequenceConstraint(vocab(), ToolCallSegments({"lookup_order"}));
    ASSERT_TRUE(c.ok());
    Sampler sampler(Random(seed));
    const Run run =
        Generate(**c, sampler, seed + 100, 1500, 60, {Id("<tool_call>"), Id("</tool_call>")});
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(run.ended) << run.text;
    const nlohmann::json call = Parse(run.text.substr(12, run.text.size() - 12 - 13));
    ASSERT_TRUE(call.is_object()) << run.text;
    EXPECT_EQ(call["name"], "lookup_order");
  }
}

TEST_F(TokenConstraintTest, ToolNamesAreJsonEscaped) {
  const std::vector<ConstraintSegment> segs = ToolCallSegments({"we\"ird\\name"});
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[1].options, std::vector<std::string>{"we\\\"ird\\\\name"});
  auto c = MakeSequenceConstraint(vocab(), segs);
  ASSERT_TRUE(c.ok());
  const std::string text =
      "<tool_call>\n{\"name\": \"we\\\"ird\\\\name\", \"arguments\": {}}\n</tool_call>";
  FeedBytes(**c, text);
  EXPECT_TRUE((*c)->Complete());
  EXPECT_EQ(Parse(text.substr(12, text.size() - 25))["name"], "we\"ird\\name");
}

TEST_F(TokenConstraintTest, SequenceValidation) {
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), {ConstraintSegment::Choice({})}).ok());
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), {ConstraintSegment::Choice({"a", ""})}).ok());
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), ToolCallSegments({})).ok());
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), {ConstraintSegment::Literal("x")}, -1).ok());
  // "a" then "b" is ambiguous when "ab" is an option too.
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), {ConstraintSegment::Choice({"a", "ab"}),
                                                ConstraintSegment::Literal("bc")})
                   .ok());
  EXPECT_TRUE(MakeSequenceConstraint(vocab(), {ConstraintSegment::Choice({"a", "ab"}),
                                               ConstraintSegment::Literal("c")})
                  .ok());
  ConstraintSegment bad_literal = ConstraintSegment::Literal("x");
  bad_literal.options.push_back("y");
  EXPECT_FALSE(MakeSequenceConstraint(vocab(), {bad_literal}).ok());
}

TEST_F(TokenConstraintTest, ChoiceWithSharedPrefixes) {
  auto made = MakeSequenceConstraint(
      vocab(),
      {ConstraintSegment::Choice({"get", "get_time", "got"}), ConstraintSegment::Literal("!")});
  ASSERT_TRUE(made.ok());
  TokenConstraint& c = **made;
  FeedBytes(c, "get");
  std::vector<float> masked = MaskedZeros(c);
  EXPECT_NE(masked[Id("_")], kNegInf);
  EXPECT_NE(masked[Id("!")], kNegInf);
  EXPECT_EQ(masked[Id("s")], kNegInf);
  FeedBytes(c, "_time!");
  EXPECT_TRUE(c.Complete());
  auto other = MakeSequenceConstraint(
      vocab(),
      {ConstraintSegment::Choice({"get", "get_time", "got"}), ConstraintSegment::Literal("!")});
  ASSERT_TRUE(other.ok());
  FeedBytes(**other, "get_");
  masked = MaskedZeros(**other);
  EXPECT_EQ(masked[Id("!")], kNegInf);  // "get_" is not an option
  EXPECT_FALSE((*other)->Complete());
}

TEST_F(TokenConstraintTest, SamplerWithoutConstraintIsUnchanged) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  SamplerParams p = Random(17);
  p.top_k = 50;
  p.top_p = 0.9f;
  p.repeat_penalty = 1.1f;
  Sampler a(p), b(p);
  std::vector<float> la(5000), lb(5000);
  for (int i = 0; i < 200; ++i) {
    for (size_t k = 0; k < la.size(); ++k) la[k] = lb[k] = normal(rng);
    const int32_t x = a.Sample(la);
    const int32_t y = b.Sample(lb, nullptr);
    ASSERT_EQ(x, y);
    a.Accept(x);
    b.Accept(y);
  }
}

TEST_F(TokenConstraintTest, ConstrainedSamplingWithPenaltiesAndFilters) {
  // The full sampling chain (penalties, top-k, top-p, min-p) only ever picks allowed tokens.
  SamplerParams p = Random(23);
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repeat_penalty = 1.3f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.5f;
  auto c = MakeJsonObjectConstraint(vocab());
  Sampler sampler(p);
  const Run run = Generate(*c, sampler, 5, 1500, 100, {}, /*hook=*/true);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(run.ended) << run.text;
  EXPECT_TRUE(Parse(run.text).is_object()) << run.text;
}

// A vocabulary with no way on from some states (no ':' token): the constraint ends the text
// with end-of-generation instead of leaving nothing to sample.
TEST(TokenConstraintSmallVocabTest, DeadEndAllowsOnlyEndOfGeneration) {
  tokenizer::VocabData data = tokenizer::testing::BpeVocab({"{", "\"", "a", "}", "<|end|>"}, {});
  data.token_types = {1, 1, 1, 1, 3};
  data.eos_id = 4;
  auto tok = tokenizer::testing::Build(std::move(data));
  ASSERT_NE(tok, nullptr);
  auto c = MakeJsonObjectConstraint(*tok);
  std::vector<float> logits(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{0.0f, kNegInf, kNegInf, kNegInf, kNegInf}));
  c->Accept(0);  // {
  logits.assign(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{kNegInf, 0.0f, kNegInf, 0.0f, kNegInf}));
  c->Accept(1);  // {"
  c->Accept(2);  // {"a
  c->Accept(1);  // {"a"  -- needs ':', which this vocabulary lacks
  logits.assign(5, 0.0f);
  c->Mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{kNegInf, kNegInf, kNegInf, kNegInf, 0.0f}));
  EXPECT_FALSE(c->Complete());
  Sampler sampler(SamplerParams::Greedy());
  logits.assign(5, 1.0f);
  EXPECT_EQ(sampler.Sample(logits, c.get()), 4);
}

}  // namespace
}  // namespace llmux
