#include "engine/runtime/grammar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/runtime/grammar_recognizer.h"
#include "engine/tokenizer/test_vocab.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

namespace llmux::grammar {
namespace {

bool Matches(const Grammar& g, std::string_view text) {
  auto r = GrammarMatches(g, text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && *r;
}

// value ::= "[" (value ("," value)*)? "]" | [0-9]{1,3}
std::shared_ptr<const Grammar> NestedLists() {
  GrammarBuilder b;
  const uint32_t value = b.AddRule("value");
  b.Define(value,
           Alt({Seq({Byte('['), Optional(Seq({Ref(value), Star(Seq({Byte(','), Ref(value)}))})),
                     Byte(']')}),
                Repeat(Range('0', '9'), 1, 3)}));
  auto g = b.Build(value);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *g : nullptr;
}

TEST(GrammarTest, AcceptsAndRefusesByteSequences) {
  auto g = NestedLists();
  ASSERT_TRUE(g);
  for (const char* ok : {"1", "123", "[]", "[1]", "[1,22,[333,[]]]", "[[[[]]]]"}) {
    EXPECT_TRUE(Matches(*g, ok)) << ok;
  }
  for (const char* bad : {"", "1234", "[", "[1,]", "[,1]", "]", "[1][2]", "[01a]", "x"}) {
    EXPECT_FALSE(Matches(*g, bad)) << bad;
  }
}

TEST(GrammarTest, RepetitionBounds) {
  GrammarBuilder b;
  const uint32_t root = b.AddRule("root", Seq({Repeat(Literal("ab"), 2, 4), Byte('.')}));
  auto g = b.Build(root);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_FALSE(Matches(**g, "ab."));
  EXPECT_TRUE(Matches(**g, "abab."));
  EXPECT_TRUE(Matches(**g, "ababab."));
  EXPECT_TRUE(Matches(**g, "abababab."));
  EXPECT_FALSE(Matches(**g, "ababababab."));
  EXPECT_FALSE(Matches(**g, "aba."));
}

TEST(GrammarTest, RefusesLeftRecursion) {
  GrammarBuilder b;
  // expr ::= expr "+" "1" | "1": left-recursive.
  const uint32_t expr = b.AddRule("expr");
  b.Define(expr, Alt({Seq({Ref(expr), Literal("+1")}), Byte('1')}));
  auto g = b.Build(expr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("left-recursive"), std::string::npos) << g.status().message();

  // Through a rule that can be empty: a ::= b a "x" | "y", b ::= "" | "z".
  GrammarBuilder c;
  const uint32_t a = c.AddRule("a");
  const uint32_t bb = c.AddRule("b", Alt({Empty(), Byte('z')}));
  c.Define(a, Alt({Seq({Ref(bb), Ref(a), Byte('x')}), Byte('y')}));
  auto h = c.Build(a);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("left-recursive"), std::string::npos);
}

TEST(GrammarTest, RefusesUndefinedAndNeverEndingRules) {
  GrammarBuilder b;
  const uint32_t root = b.AddRule("root");
  b.AddRule("dangling");
  b.Define(root, Seq({Byte('a'), Ref(1)}));
  auto g = b.Build(root);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("'dangling' is used but not defined"), std::string::npos);

  GrammarBuilder c;
  const uint32_t loop = c.AddRule("loop");
  c.Define(loop, Seq({Byte('a'), Ref(loop)}));
  auto h = c.Build(loop);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("can never finish"), std::string::npos);
}

TEST(GrammarTest, RepetitionExpansionIsBounded) {
  GrammarBuilder b;
  // 100000 optional copies: a helper rule each.
  const uint32_t root = b.AddRule("root", Repeat(Byte('a'), 0, 100000));
  auto g = b.Build(root);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("rules after expanding"), std::string::npos)
      << g.status().message();
}

TEST(GrammarTest, ExplodingAlternationFailsClearly) {
  // 300 different rules all start with "a": 300 stacks are open before the first byte.
  GrammarBuilder b;
  std::vector<Expr> alts;
  for (int i = 0; i < 300; ++i) {
    const std::string digits = std::to_string(i);
    const uint32_t r = b.AddRule(digits, Seq({Byte('a'), Literal(digits)}));
    alts.push_back(Ref(r));
  }
  const uint32_t root = b.AddRule("root", Alt(std::move(alts)));
  auto g = b.Build(root);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("parse stacks"), std::string::npos);

  // Ambiguity that grows with the input: each "a" may open x or y, whose closers differ, so n
  // bytes of "a" leave 2^n different stacks.
  GrammarBuilder c;
  const uint32_t x = c.AddRule("x");
  const uint32_t y = c.AddRule("y");
  c.Define(
      x, Alt({Seq({Byte('a'), Ref(x), Byte('b')}), Seq({Byte('a'), Ref(y), Byte('c')}), Empty()}));
  c.Define(
      y, Alt({Seq({Byte('a'), Ref(x), Byte('c')}), Seq({Byte('a'), Ref(y), Byte('b')}), Empty()}));
  auto h = c.Build(x);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto r = GrammarMatches(**h, std::string(20, 'a'));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too many parse stacks"), std::string::npos);
}

TEST(GrammarTest, DeepNestingIsBoundedNotACrash) {
  auto g = NestedLists();
  ASSERT_TRUE(g);
  std::string deep(5000, '[');
  auto r = GrammarMatches(*g, deep);
  EXPECT_FALSE(r.ok() && *r);  // refused (stack depth limit), never a crash
  std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(Matches(*g, ok));
}

TEST(GrammarTest, DistanceIsTheShortestCompletion) {
  auto g = NestedLists();
  ASSERT_TRUE(g);
  Recognizer rec(*g);
  Recognizer::State s, t;
  rec.Start(s);
  EXPECT_EQ(rec.Distance(s), 1u);  // one digit
  for (char c : std::string("[[1,[")) {
    ASSERT_TRUE(rec.Step(s, static_cast<uint8_t>(c), t));
    std::swap(s, t);
  }
  EXPECT_EQ(rec.Distance(s), 3u);  // "]]]"
}

// --- Masks over a vocabulary, compared with walking every token through the recognizer. ---

std::unique_ptr<Tokenizer> SmallVocab() {
  tokenizer::VocabData data = tokenizer::testing::BpeVocab(
      {"[",   "]",    ",", "1",       "2",  "12", "[1",  "[[", "]]", ",[",     "1]",
       "123", "1234", "a", "<|end|>", "[]", "],", "]]]", "9",  "90", "<|ctl|>"},
      {});
  data.token_types.assign(data.tokens.size(), 1);
  data.token_types[14] = 3;
  data.token_types[20] = 3;
  data.eos_id = 14;
  return tokenizer::testing::Build(std::move(data));
}

// What Mask should allow from `prefix` (text accepted so far): tokens whose bytes keep the
// text viable, and end of generation once the text is whole.
// With tokens_left >= 0: the budget rule of grammar_constraint.h as well.
std::vector<bool> BruteForce(const Grammar& g, const ConstraintVocab& vocab,
                             const std::string& prefix, int tokens_left = -1) {
  std::vector<bool> allowed(vocab.n_vocab(), false);
  Recognizer rec(g);
  Recognizer::State start, a, b;
  rec.Start(start);
  for (char c : prefix) {
    EXPECT_TRUE(rec.Step(start, static_cast<uint8_t>(c), b));
    std::swap(start, b);
  }
  for (int32_t id = 0; id < vocab.n_vocab(); ++id) {
    if (vocab.is_eog(id)) {
      allowed[id] = start.accepting;
      continue;
    }
    if (vocab.is_special(id) || vocab.piece(id).empty()) continue;
    a = start;
    bool ok = true;
    for (char c : vocab.piece(id)) {
      if (!rec.Step(a, static_cast<uint8_t>(c), b)) {
        ok = false;
        break;
      }
      std::swap(a, b);
    }
    const bool budgeted =
        tokens_left >= 0 && static_cast<int64_t>(rec.Distance(start)) + 1 <= tokens_left;
    allowed[id] = ok && (!budgeted || rec.Distance(a) + 2 <= static_cast<uint64_t>(tokens_left));
  }
  return allowed;
}

// budget > 0: the constraint is told the tokens left, and the answer prefers to go on (not end).
void ExpectMaskMatchesBruteForce(std::shared_ptr<const Grammar> g,
                                 std::shared_ptr<const ConstraintVocab> vocab, int steps,
                                 uint32_t seed, int budget = -1, GrammarMaskOptions options = {}) {
  auto c = MakeGrammarConstraint(vocab, g, {}, options);
  std::mt19937 rng(seed);
  std::string text;
  for (int step = 0; step < steps; ++step) {
    std::vector<float> logits(vocab->n_vocab(), 0.0f);
    const int left = budget > 0 ? budget - step : -1;
    if (budget > 0) c->SetTokensLeft(left);
    c->Mask(logits);
    const std::vector<bool> expected = BruteForce(*g, *vocab, text, left);
    std::vector<int32_t> choices;
    for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
      const bool allowed = std::isfinite(logits[id]);
      ASSERT_EQ(allowed, expected[id])
          << "token " << id << " '" << vocab->piece(id) << "' after '" << text << "'";
      if (allowed) choices.push_back(id);
    }
    ASSERT_FALSE(choices.empty());
    int32_t pick = choices[rng() % choices.size()];
    if (budget > 0 && vocab->is_eog(pick) && choices.size() > 1) {
      pick = choices[(std::find(choices.begin(), choices.end(), pick) - choices.begin() + 1) %
                     choices.size()];
    }
    c->Accept(pick);
    if (vocab->is_eog(pick)) {
      EXPECT_TRUE(c->Complete());
      EXPECT_TRUE(Matches(*g, text)) << text;
      return;
    }
    text += vocab->piece(pick);
  }
}

TEST(GrammarConstraintTest, MaskEqualsBruteForceOnSmallVocab) {
  auto tok = SmallVocab();
  ASSERT_TRUE(tok);
  auto vocab = ConstraintVocab::Build(*tok);
  auto g = NestedLists();
  ASSERT_TRUE(g);
  for (uint32_t seed = 0; seed < 50; ++seed) ExpectMaskMatchesBruteForce(g, vocab, 40, seed);
}

TEST(GrammarConstraintTest, SteersToCompletionWithinTheBudget) {
  auto tok = SmallVocab();
  ASSERT_TRUE(tok);
  auto vocab = ConstraintVocab::Build(*tok);
  auto g = NestedLists();
  ASSERT_TRUE(g);
  for (uint32_t seed = 0; seed < 50; ++seed) {
    auto c = MakeGrammarConstraint(vocab, g);
    std::mt19937 rng(seed);
    const int budget = 12;
    std::string text;
    bool ended = false;
    for (int used = 0; used < budget && !ended; ++used) {
      c->SetTokensLeft(budget - used);
      std::vector<float> logits(vocab->n_vocab(), 0.0f);
      c->Mask(logits);
      std::vector<int32_t> choices;
      for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
        // Prefer anything but end of generation, like a model that never wants to stop.
        if (std::isfinite(logits[id]) && !vocab->is_eog(id)) choices.push_back(id);
      }
      if (choices.empty()) {
        ASSERT_TRUE(c->Complete()) << text;
        ended = true;
        break;
      }
      const int32_t pick = choices[rng() % choices.size()];
      c->Accept(pick);
      text += vocab->piece(pick);
    }
    EXPECT_TRUE(ended) << "seed " << seed << ": " << text;
    EXPECT_TRUE(Matches(*g, text)) << text;
  }
}

// The real Qwen3 vocabulary: a JSON-string-like body uses the whole-subtree shortcut, which must
// give the same mask as walking every token.
TEST(GrammarConstraintTest, MaskEqualsBruteForceOnQwen3Vocab) {
  auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto vocab = ConstraintVocab::Build(**tok);

  // root ::= "{\"k\": \"" body "\"}" with body a JSON string's inside; or [0-9]+.
  GrammarBuilder b;
  const uint32_t body = b.AddRule("body");
  ByteSet plain;
  plain.AddRange(0x20, 0x7f);
  plain.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
  plain.bits[0x5c >> 6] &= ~(uint64_t{1} << (0x5c & 63));
  const Expr cont = Range(0x80, 0xbf);
  b.Define(body, Alt({Seq({Bytes(plain), Ref(body)}), Seq({Range(0xc2, 0xdf), cont, Ref(body)}),
                      Seq({Range(0xe0, 0xef), cont, cont, Ref(body)}),
                      Seq({Range(0xf0, 0xf4), cont, cont, cont, Ref(body)}),
                      Seq({Byte('\\'), Bytes([] {
                             ByteSet s;
                             for (char c : std::string("\"\\/bfnrt")) s.Add(c);
                             return s;
                           }()),
                           Ref(body)}),
                      Empty()}));
  b.MarkStringBody(body);
  const uint32_t root = b.AddRule(
      "root",
      Alt({Seq({Literal("{\"k\": \""), Ref(body), Literal("\"}")}), Plus(Range('0', '9'))}));
  auto g = b.Build(root);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  // (The body above is looser than UTF-8 on purpose: the shortcut only needs the boundary.)
  ExpectMaskMatchesBruteForce(*g, vocab, 6, 7);
  // Near the end of a budget, where the plain-string set gives way to the walk.
  ExpectMaskMatchesBruteForce(*g, vocab, 10, 8, 10);
  // A walk whose memo of states fills up: the rest is stepped alone.
  ExpectMaskMatchesBruteForce(*g, vocab, 4, 9, -1, {.walk_memo_entries = 3});
}

// A special token whose text the grammar takes is allowed only when it is listed, only where the
// grammar takes its text, and accepting it moves the recognizer over that text.
TEST(GrammarConstraintTest, ListedSpecialTokensSpellTheirText) {
  auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto vocab = ConstraintVocab::Build(**tok);
  int32_t open = -1, close = -1;
  for (int32_t id : vocab->special_ids()) {
    if (vocab->piece(id) == "<tool_call>") open = id;
    if (vocab->piece(id) == "</tool_call>") close = id;
  }
  ASSERT_GE(open, 0);
  ASSERT_GE(close, 0);
  GrammarBuilder b;
  const uint32_t root = b.AddRule(
      "root", Seq({Literal("<tool_call>"), Plus(Range('0', '9')), Literal("</tool_call>")}));
  auto g = b.Build(root);
  ASSERT_TRUE(g.ok());
  std::vector<float> logits(vocab->n_vocab(), 0.0f);
  auto plain = MakeGrammarConstraint(vocab, *g);
  plain->Mask(logits);
  EXPECT_TRUE(std::isinf(logits[open])) << "not listed: never allowed";

  auto c = MakeGrammarConstraint(vocab, *g, {"<tool_call>", "</tool_call>"});
  logits.assign(vocab->n_vocab(), 0.0f);
  c->Mask(logits);
  EXPECT_FALSE(std::isinf(logits[open]));
  EXPECT_TRUE(std::isinf(logits[close])) << "not where the grammar is";
  c->Accept(open);
  logits.assign(vocab->n_vocab(), 0.0f);
  c->Mask(logits);
  EXPECT_TRUE(std::isinf(logits[open]));
  EXPECT_TRUE(std::isinf(logits[close])) << "a digit must come first";
  c->Accept((*tok)->Encode("7", false, false).at(0));
  logits.assign(vocab->n_vocab(), 0.0f);
  c->Mask(logits);
  EXPECT_FALSE(std::isinf(logits[close]));
  c->Accept(close);
  EXPECT_TRUE(c->Complete());
}

// Counted runs on the Qwen3 vocabulary: bounded JSON-string characters (MarkStringChar) and
// bounded and unbounded repetitions of byte sets take subtrees whole or by counting characters;
// with and without a tight budget the mask must equal walking every token.
TEST(GrammarConstraintTest, CountedRunsEqualBruteForceOnQwen3Vocab) {
  auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto vocab = ConstraintVocab::Build(**tok);

  GrammarBuilder b;
  ByteSet plain;
  plain.AddRange(0x20, 0x7f);
  plain.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
  plain.bits[0x5c >> 6] &= ~(uint64_t{1} << (0x5c & 63));
  const Expr cont = Range(0x80, 0xbf);
  ByteSet lead3;
  lead3.AddRange(0xe0, 0xef);
  const uint32_t chr = b.AddRule(
      "char", Alt({Bytes(plain), Seq({Range(0xc2, 0xdf), cont}), Seq({Bytes(lead3), cont, cont}),
                   Seq({Range(0xf0, 0xf4), cont, cont, cont}), Literal("\\n")}));
  b.MarkStringChar(chr);
  ByteSet word;
  word.AddRange('a', 'z');
  word.AddRange('A', 'Z');
  word.AddRange('0', '9');
  word.Add('_');
  const uint32_t root = b.AddRule(
      "root",
      Seq({Literal("{\"a\":\""), Repeat(Ref(chr), 0, 7), Literal("\",\"b\":\""),
           Repeat(Ref(chr), 2, 30), Literal("\",\"w\":"), Repeat(Bytes(word), 1, 12), Byte(','),
           Repeat(Range('0', '9'), 3, 40), Byte(' '), Star(Bytes(word)), Literal("}")}));
  auto g = b.Build(root);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (uint32_t seed = 1; seed <= 2; ++seed) ExpectMaskMatchesBruteForce(*g, vocab, 14, seed);
  for (int budget : {12, 16}) ExpectMaskMatchesBruteForce(*g, vocab, budget, 3, budget);
  ExpectMaskMatchesBruteForce(*g, vocab, 14, 4, -1, {.walk_memo_entries = 2});
}

// A saved mask (reuse_masks), or one started from the plain-string set, must equal a new full
// walk from the same state under every budget:
// answers made of runs whose states repeat, with budgets from loose to one token short of the
// text, and a pick that prefers going on, so that the steering to the end is reached.
void ExpectSavedMasksEqualNewWalks(std::shared_ptr<const Grammar> g,
                                   std::shared_ptr<const ConstraintVocab> vocab, uint32_t seed,
                                   int budget) {
  auto saved = MakeGrammarConstraint(vocab, g);
  auto walked =
      MakeGrammarConstraint(vocab, g, {}, {.reuse_masks = false, .plain_string_sets = false});
  std::mt19937 rng(seed);
  std::string text;
  for (int used = 0; used < budget; ++used) {
    std::vector<float> a(vocab->n_vocab(), 0.0f), b(vocab->n_vocab(), 0.0f);
    saved->SetTokensLeft(budget - used);
    walked->SetTokensLeft(budget - used);
    saved->Mask(a);
    walked->Mask(b);
    std::vector<int32_t> choices;
    for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
      ASSERT_EQ(std::isfinite(a[id]), std::isfinite(b[id]))
          << "token " << id << " '" << vocab->piece(id) << "' after '" << text << "', budget "
          << budget << " used " << used;
      if (std::isfinite(a[id]) && !vocab->is_eog(id)) choices.push_back(id);
    }
    if (choices.empty()) {
      EXPECT_TRUE(saved->Complete()) << text;
      return;
    }
    const int32_t pick = choices[rng() % choices.size()];
    saved->Accept(pick);
    walked->Accept(pick);
    text += vocab->piece(pick);
  }
}

TEST(GrammarConstraintTest, SavedMasksEqualNewWalksOnQwen3Vocab) {
  auto file = gguf::GgufFile::Open(llmux::testing::SharedDir() + "/models/qwen3-vocab.gguf");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto vocab = ConstraintVocab::Build(**tok);

  // A free string, a run of a byte set and digits: states that repeat from token to token.
  GrammarBuilder b;
  ByteSet plain;
  plain.AddRange(0x20, 0x7f);
  plain.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
  plain.bits[0x5c >> 6] &= ~(uint64_t{1} << (0x5c & 63));
  const Expr cont = Range(0x80, 0xbf);
  const uint32_t chr = b.AddRule(
      "char",
      Alt({Bytes(plain), Seq({Range(0xc2, 0xdf), cont}), Seq({Range(0xe0, 0xef), cont, cont}),
           Seq({Range(0xf0, 0xf4), cont, cont, cont}), Literal("\\n")}));
  b.MarkStringChar(chr);
  ByteSet word;
  word.AddRange('a', 'z');
  word.AddRange('0', '9');
  const uint32_t item =
      b.AddRule("item", Alt({Seq({Byte('"'), Star(Ref(chr)), Byte('"')}),
                             Seq({Plus(Bytes(word)), Star(Seq({Byte('-'), Plus(Bytes(word))}))}),
                             Plus(Range('0', '9'))}));
  const uint32_t root =
      b.AddRule("root", Seq({Byte('['), Ref(item), Star(Seq({Byte(','), Ref(item)})), Byte(']')}));
  auto g = b.Build(root);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    for (int budget : {8, 20, 60}) ExpectSavedMasksEqualNewWalks(*g, vocab, seed, budget);
  }
}

}  // namespace
}  // namespace llmux::grammar
