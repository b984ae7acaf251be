// Token-level constrained decoding: before each sampling step a TokenConstraint masks the
// logits of every token that would take the text off the constrained language, so the output
// is guaranteed to match (JSON mode and schemas, grammars, forced tool calls: see
// grammar_constraint.h, the one implementation).
//
// Constraints are made per request from a ConstraintVocab that is built once per tokenizer
// and shared. A decode step is: constraint->Mask(logits); sample; constraint->Accept(token).
// Special tokens other than end-of-generation ones are never allowed, except where their text
// is exactly part of what the constraint asks for (Qwen3's "<tool_call>" added token).
#pragma once

#include <cstdint>
#include <span>

#include "engine/runtime/constraint_vocab.h"

namespace llmux {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets to -infinity the logits of tokens that cannot come next. End-of-generation tokens are
  // allowed only when the constrained text is complete. Logits past the vocabulary are masked.
  virtual void Mask(std::span<float> logits) = 0;
  // The token chosen (must have been allowed). A token that was not allowed puts the constraint
  // in a failed state where Complete() is false and only end-of-generation tokens are allowed.
  virtual void Accept(int32_t token) = 0;
  // The text so far is a whole match.
  virtual bool Complete() const = 0;
  // How many tokens the request may still generate, end of generation included (called
  // before Mask when the request has max_tokens). A constraint may use it to steer towards
  // finishing while there is room.
  virtual void SetTokensLeft(int tokens) {}
};

}  // namespace llmux
