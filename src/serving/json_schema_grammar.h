// JSON Schema to grammar (engine/runtime/grammar.h) for structured output: the grammar's
// language is a subset of the JSON texts that validate against the schema, so a constrained
// answer always validates. What is supported, and how it is narrowed:
//
// - type (one or a list): object, array, string, number, integer, boolean, null.
// - object: properties come in the order the schema lists them; required ones always, optional
//   ones may be left out; no other properties are generated (whatever additionalProperties
//   says: leaving them out always validates). An object that declares no properties takes
//   members of any name (a JSON string; names may repeat) when additionalProperties is true
//   or a schema (its values then follow it), or is left out and the schema is not strict:
//   `{"type":"object"}` is any object. A `required` name missing from `properties` is an
//   error.
// - array: items, prefixItems, minItems, maxItems.
// - string: minLength, maxLength (in characters; escapes count as one; no \u surrogate
//   escapes are generated), format date, time, date-time, uuid, email, ipv4 (a plain subset of
//   each: no leap days or seconds, always a time zone), pattern (serving/regex_grammar.h; not
//   together with format or the lengths).
// - integer and number: minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers). Bounded
//   numbers are written without exponent, integers with at most 15 digits; a bounded number
//   whose bounds are not integers may not reach values next to the bounds.
// - enum, const (any JSON values, written compactly), anyOf, oneOf (as anyOf: branches must not
//   overlap for oneOf to hold), allOf with one schema, $ref to "#", "#/$defs/..." or
//   "#/definitions/..." (recursion allowed where it can end; nesting is bounded at run time).
// - Annotations (title, description, default, examples, $schema, $id, $comment, ...) are
//   ignored. Other keywords (multipleOf, uniqueItems, not, if/then/else, ...) are an
//   error when strict, otherwise ignored: the output may then not satisfy them.
//
// Whitespace: up to kJsonSchemaWhitespace bytes between tokens; none before or after the value.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/runtime/grammar.h"

namespace llmux::serving {

inline constexpr int kJsonSchemaWhitespace = 16;
inline constexpr int kMaxJsonSchemaDepth = 64;        // nested subschemas
inline constexpr int kMaxJsonSchemaProperties = 100;  // per object
inline constexpr int kMaxJsonSchemaEnumBytes = 64 * 1024;
inline constexpr int kMaxJsonSchemaRepeat = 4096;  // minItems/maxItems/minLength/maxLength

// Compiles the schema (JSON text). Errors are InvalidArgument, naming the keyword and where
// it is ("at /properties/a/items").
Result<std::shared_ptr<const grammar::Grammar>> CompileJsonSchema(std::string_view schema,
                                                                  bool strict);

// A JSON value framed by fixed text: `before`, a value valid against `schema`, then `after`.
struct FramedSchema {
  std::string before;
  std::string schema;  // JSON text
  std::string after;
};
// How framed values follow each other: `before`, 1..max_count values separated by
// `separator`, then `after`.
struct FramedList {
  std::string before;
  std::string separator;
  std::string after;
  int max_count = 1;
};
// The grammar whose language is a list of framed values, each any one of the alternatives (forced
// tool calls: one alternative per tool, its call syntax around its parameters schema).
Result<std::shared_ptr<const grammar::Grammar>> CompileFramedSchemas(
    const std::vector<FramedSchema>& alternatives, bool strict, const FramedList& list = {});

}  // namespace llmux::serving
