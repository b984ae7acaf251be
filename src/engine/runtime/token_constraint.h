// Token-level constrained decoding: before each sampling step a TokenConstraint masks the
// logits of every token that would take the text off the constrained language, so the output
// is guaranteed to match (JSON mode, forced tool calls).
//
// Constraints are made per request from a ConstraintVocab that is built once per tokenizer
// and shared. A decode step is: constraint->Mask(logits); sample; constraint->Accept(token).
// Special tokens other than end-of-generation ones are never allowed, except where their text
// is exactly part of a literal the constraint asks for (Qwen3's "<tool_call>" added token).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/runtime/constraint_vocab.h"

namespace llmux {

class Tokenizer;

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

// One part of a sequence constraint.
struct ConstraintSegment {
  enum class Kind { kLiteral, kChoice, kJsonObject };
  Kind kind = Kind::kLiteral;
  std::vector<std::string> options;  // kLiteral: the text; kChoice: the alternatives

  static ConstraintSegment Literal(std::string text);
  static ConstraintSegment Choice(std::vector<std::string> options);
  static ConstraintSegment JsonObject();  // one JSON object (see json_machine.h for limits)
};

// Whitespace allowed after the JSON object of MakeJsonObjectConstraint, before end of generation.
inline constexpr int kJsonTrailingWhitespace = 4;

// The output is one JSON object: optional leading whitespace, the object, at most
// kJsonTrailingWhitespace bytes of whitespace, then an end-of-generation token.
std::unique_ptr<TokenConstraint> MakeJsonObjectConstraint(
    std::shared_ptr<const ConstraintVocab> vocab);
// Builds a ConstraintVocab for this call only (about 0.1 s for a 152k vocabulary): servers
// should build one per model and use the overload above.
std::unique_ptr<TokenConstraint> MakeJsonObjectConstraint(const Tokenizer& tokenizer);

// The output is the segments in order, then at most `trailing_whitespace` bytes of whitespace,
// then an end-of-generation token. Fails for a choice without options, an empty option, or an
// option that continues (as a longer option) with a byte that could also start what follows
// the choice: the machine decides at each byte without lookahead.
Result<std::unique_ptr<TokenConstraint>> MakeSequenceConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, std::vector<ConstraintSegment> segments,
    int trailing_whitespace = 0);
Result<std::unique_ptr<TokenConstraint>> MakeSequenceConstraint(
    const Tokenizer& tokenizer, std::vector<ConstraintSegment> segments,
    int trailing_whitespace = 0);

// Qwen3 / Hermes tool-call frame, as the chat template renders calls:
//   <tool_call>\n{"name": "<one of names>", "arguments": <JSON object>}\n</tool_call>
// For tool_choice "required" pass every tool's name, for a named function just that one.
std::vector<ConstraintSegment> ToolCallSegments(std::vector<std::string> names);

}  // namespace llmux
