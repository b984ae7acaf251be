// libFuzzer target: the structured-output compilers (src/serving/json_schema_grammar.h,
// src/serving/gbnf.h) and the grammar recognizer they feed. The first byte picks what follows:
// 'G' a GBNF grammar, 'S' a JSON schema compiled strict, anything else a JSON schema; after a
// NUL byte comes a text to match.
//
// What must hold: nothing crashes or runs away; a refusal is InvalidArgument with a message;
// matching a text either answers or is InvalidArgument (too many parse stacks); and every
// prefix of the text the recognizer keeps is viable: following the shortest completion
// (Recognizer::Distance) one byte at a time always finds a byte that brings it one nearer,
// and ends in an accepting state.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/runtime/grammar_recognizer.h"
#include "fuzz_check.h"
#include "json_mutator.h"
#include "serving/gbnf.h"
#include "serving/json_schema_grammar.h"

namespace {

using llmux::StatusCode;
namespace grammar = llmux::grammar;

// From `s`, the shortest completion must be reachable byte by byte.
void CheckCompletes(grammar::Recognizer& rec, grammar::Recognizer::State s) {
  grammar::Recognizer::State t;
  for (int steps = 0; steps < 4096 && !s.accepting; ++steps) {
    const uint32_t d = rec.Distance(s);
    FUZZ_CHECK(d > 0, "a state at distance 0 accepts");
    const grammar::ByteSet next = rec.NextBytes(s);
    bool found = false;
    for (int b = 0; b < 256 && !found; ++b) {
      if (!next.Has(static_cast<uint8_t>(b))) continue;
      if (!rec.Step(s, static_cast<uint8_t>(b), t)) {
        if (rec.exploded()) return;  // limits: nothing more to check
        continue;
      }
      if (rec.Distance(t) + 1 == d) found = true;
    }
    if (!found && rec.exploded()) return;
    FUZZ_CHECK(found, "some byte brings a viable state one byte nearer completion");
    s = t;
  }
}

void CheckGrammar(const grammar::Grammar& g, std::string_view text) {
  auto matched = grammar::GrammarMatches(g, text);
  if (!matched.ok()) {
    FUZZ_CHECK(matched.status().code() == StatusCode::kInvalidArgument,
               "limits are InvalidArgument");
  }
  grammar::Recognizer rec(g);
  grammar::Recognizer::State s, t;
  FUZZ_CHECK(rec.Start(s), "a built grammar starts within the limits");
  CheckCompletes(rec, s);
  for (char c : text) {
    if (!rec.Step(s, static_cast<uint8_t>(c), t)) return;
    std::swap(s, t);
    rec.Compact(s);
  }
  CheckCompletes(rec, s);
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view text;
  if (const size_t nul = input.find('\0'); nul != std::string_view::npos) {
    text = input.substr(nul + 1);
    input = input.substr(0, nul);
  }
  auto g = data[0] == 'G' ? llmux::serving::CompileGbnf(input)
                          : llmux::serving::CompileJsonSchema(input, data[0] == 'S');
  if (!g.ok()) {
    FUZZ_CHECK(g.status().code() == StatusCode::kInvalidArgument, "a refusal is InvalidArgument");
    FUZZ_CHECK(!g.status().message().empty(), "a refusal says why");
    return 0;
  }
  CheckGrammar(**g, text);
  return 0;
}
