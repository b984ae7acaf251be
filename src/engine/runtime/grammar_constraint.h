// A TokenConstraint from a grammar (grammar.h): the output is a whole text of the grammar's
// language, then an end-of-generation token.
//
// The mask walks the vocabulary's token trie once per shared prefix with the recognizer's
// stack sets, dropping a subtree at its first refused byte; at a JSON-string body's character
// boundary a subtree of plain string tokens is taken whole. When the request's remaining token
// budget (SetTokensLeft) gets close to the fewest bytes that can still complete the text, only
// tokens that bring completion nearer are allowed, so a bounded request ends with a whole text
// rather than a cut one (vocabularies with single-byte tokens always have such a token).
// Special tokens other than end-of-generation ones are never allowed.
#pragma once

#include <memory>

#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/grammar.h"
#include "engine/runtime/token_constraint.h"

namespace llmux {

std::unique_ptr<TokenConstraint> MakeGrammarConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, std::shared_ptr<const grammar::Grammar> g);

}  // namespace llmux
