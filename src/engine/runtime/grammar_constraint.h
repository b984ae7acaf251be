// A TokenConstraint from a grammar (grammar.h): the output is a whole text of the grammar's
// language, then an end-of-generation token.
//
// The mask walks the vocabulary's token trie once per shared prefix with the recognizer's
// stack sets, dropping a subtree at its first refused byte; at a JSON-string body's character
// boundary a subtree of plain string tokens is taken whole. Where the state is inside a string
// (at a character start), the plain-content tokens that fit its room come from a set kept by
// character count, and only the trie of the other tokens is walked. With a token budget
// (SetTokensLeft) a token is allowed only if the fewest bytes that complete the text after it,
// plus the end-of-generation token, still fit, so a bounded request ends with a whole text
// rather than a cut one (a vocabulary with every single byte as a token can always go one byte
// nearer). A budget too small from the start is ignored: the text is cut at the limit.
// Special tokens other than end-of-generation ones are never allowed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/grammar.h"
#include "engine/runtime/token_constraint.h"

namespace llmux {

// Shortcuts of the mask that must not change what it allows; off only to compare in tests.
struct GrammarMaskOptions {
  // A state seen in the last few steps gets its saved mask instead of a new walk.
  bool reuse_masks = true;
  // Inside a JSON string, the tokens of plain content come whole from
  // ConstraintVocab::plain_strings() and only the others are walked.
  bool plain_string_sets = true;
  // States a walk keeps by the masks that led to them (more are stepped alone and undone).
  uint32_t walk_memo_entries = 4096;
};

// special_texts: special tokens whose text is one of these may be taken where the grammar
// takes that text (a template's tool-call tags, e.g. Qwen's "<tool_call>").
std::unique_ptr<TokenConstraint> MakeGrammarConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, std::shared_ptr<const grammar::Grammar> g,
    const std::vector<std::string>& special_texts = {}, GrammarMaskOptions options = {});

}  // namespace llmux
