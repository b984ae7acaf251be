// The sandbox: each limit of JinjaLimits stops a template that exceeds it with
// RESOURCE_EXHAUSTED, and a template within it renders.
#include <gtest/gtest.h>

#include <string>

#include "chat/jinja/jinja_template.h"

namespace llmux::chat::jinja {
namespace {

using Ordered = nlohmann::ordered_json;

Status RenderStatus(const std::string& text, const JinjaLimits& limits,
                    const Ordered& context = Ordered::object()) {
  auto tmpl = JinjaTemplate::Parse(text, limits);
  if (!tmpl.ok()) return tmpl.status();
  return (*tmpl)->Render(context).status();
}

void ExpectExhausted(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.ToString();
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(JinjaLimitsTest, TemplateSize) {
  JinjaLimits limits;
  limits.max_template_bytes = 100;
  ExpectExhausted(RenderStatus(std::string(101, 'x'), limits), "more than 100");
  EXPECT_TRUE(RenderStatus(std::string(100, 'x'), limits).ok());
}

TEST(JinjaLimitsTest, DeeplyNestedParenthesesAreRefusedNotOverflowed) {
  JinjaLimits limits;
  // 100k levels would overflow the stack of a parser that recursed without a bound.
  ExpectExhausted(
      RenderStatus("{{ " + Repeat("(", 100000) + "1" + Repeat(")", 100000) + " }}", limits),
      "nests deeper than 128");
  ExpectExhausted(RenderStatus("{{ " + Repeat("[", 100000) + Repeat("]", 100000) + " }}", limits),
                  "nests deeper");
  ExpectExhausted(RenderStatus("{{ " + Repeat("not ", 100000) + "x }}", limits), "nests deeper");
  ExpectExhausted(RenderStatus("{{ " + Repeat("-", 100000) + "x }}", limits), "nests deeper");
  EXPECT_TRUE(RenderStatus("{{ " + Repeat("(", 20) + "1" + Repeat(")", 20) + " }}", limits).ok());
}

TEST(JinjaLimitsTest, LongOperatorChainsAndNestedBlocksAreBounded) {
  JinjaLimits limits;
  // Built by loops in the parser, not recursion: bounded by the tree's height instead.
  ExpectExhausted(RenderStatus("{{ 1" + Repeat(" + 1", 100000) + " }}", limits), "nests deeper");
  ExpectExhausted(RenderStatus("{{ 'a'" + Repeat(" | trim", 100000) + " }}", limits),
                  "nests deeper");
  ExpectExhausted(RenderStatus("{{ a" + Repeat(".b", 100000) + " }}", limits), "nests deeper");
  ExpectExhausted(
      RenderStatus(Repeat("{% if true %}", 10000) + Repeat("{% endif %}", 10000), limits),
      "nests deeper");
  EXPECT_TRUE(RenderStatus("{{ 1" + Repeat(" + 1", 100) + " }}", limits).ok());
}

TEST(JinjaLimitsTest, LoopIterations) {
  JinjaLimits limits;
  limits.max_loop_iterations = 1000;
  ExpectExhausted(
      RenderStatus("{% for i in range(10) %}{% for j in range(101) %}{% endfor %}{% endfor %}",
                   limits),
      "loops more than 1000");
  ExpectExhausted(RenderStatus("{% for i in range(1000000000000) %}{% endfor %}", limits),
                  "loops more than");
  // range() elements count too: 5 + 5 * 80 elements, 5 + 5 * 80 iterations.
  EXPECT_TRUE(RenderStatus(
                  "{% for i in range(5) %}{% for j in range(80) %}{% endfor %}{% endfor %}", limits)
                  .ok());
}

TEST(JinjaLimitsTest, OutputSize) {
  JinjaLimits limits;
  limits.max_output_bytes = 1000;
  ExpectExhausted(RenderStatus("{% for i in range(200) %}xxxxxx{% endfor %}", limits),
                  "output exceeds 1000");
  // A string built in a variable, never written out, is bounded too.
  ExpectExhausted(RenderStatus("{% set ns = namespace(s='') %}{% for i in range(300) %}"
                               "{% set ns.s = ns.s ~ 'abcd' %}{% endfor %}",
                               limits),
                  "output exceeds 1000");
  ExpectExhausted(RenderStatus("{{ 'x' | indent(5000, true) }}", limits), "exceeds");
  EXPECT_TRUE(RenderStatus("{% for i in range(100) %}xxxxx{% endfor %}", limits).ok());
}

TEST(JinjaLimitsTest, CopyBudgetBoundsQuadraticConcatenation) {
  JinjaLimits limits;
  limits.max_copy_bytes = 100000;
  ExpectExhausted(RenderStatus("{% set ns = namespace(s='') %}{% for i in range(1000) %}"
                               "{% set ns.s = ns.s ~ 'ab' %}{% endfor %}",
                               limits),
                  "copies more than 100000");
}

TEST(JinjaLimitsTest, RecursiveMacros) {
  JinjaLimits limits;
  ExpectExhausted(RenderStatus("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", limits),
                  "macro calls nest deeper than 32");
  // Bounded recursion within the limit renders.
  EXPECT_TRUE(
      RenderStatus(
          "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(20) }}",
          limits)
          .ok());
}

TEST(JinjaLimitsTest, DeepRequestDataAndValues) {
  JinjaLimits limits;
  limits.max_value_depth = 16;
  Ordered deep = "leaf";
  for (int i = 0; i < 40; ++i) deep = Ordered::array({deep});
  ExpectExhausted(RenderStatus("{{ x }}", limits, Ordered{{"x", deep}}), "nests deeper than 16");
  // Values the template nests itself, one level per iteration.
  ExpectExhausted(RenderStatus("{% set ns = namespace(v=[]) %}{% for i in range(100) %}"
                               "{% set ns.v = [ns.v] %}{% endfor %}",
                               limits),
                  "nests deeper than 16");
  Ordered shallow = Ordered::array({Ordered::array({1})});
  EXPECT_TRUE(RenderStatus("{{ x | tojson }}", limits, Ordered{{"x", shallow}}).ok());
}

}  // namespace
}  // namespace llmux::chat::jinja
