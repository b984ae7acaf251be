// Prompt templates every llmux offers: summarise, translate and review_code.
#include <algorithm>
#include <array>

#include "mcp/serving_catalog.h"

namespace llmux::mcp {

namespace {

constexpr std::array<const char*, 12> kLanguages = {
    "Chinese", "English", "French", "German", "Italian", "Japanese",
    "Korean",  "Portuguese", "Russian", "Spanish", "Arabic", "Hindi"};
constexpr std::array<const char*, 10> kCodeLanguages = {
    "c", "c++", "go", "java", "javascript", "python", "rust", "shell", "sql", "typescript"};

Json Argument(const char* name, const char* description, bool required) {
  return Json{{"name", name}, {"description", description}, {"required", required}};
}

Json UserMessage(std::string text) {
  return Json{{"role", "user"}, {"content", TextContent(std::move(text))}};
}

std::string Arg(const Json& args, const char* name, std::string fallback = "") {
  auto it = args.find(name);
  if (it == args.end()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// Case-insensitive prefix completion over a fixed list.
template <size_t N>
Completer CompleteFrom(const char* argument, const std::array<const char*, N>& values) {
  return [argument, &values](const std::string& name, const std::string& value, const Json&, const Caller&) {
    std::vector<std::string> out;
    if (name != argument) return out;
    for (const char* v : values) {
      std::string candidate(v);
      if (candidate.size() < value.size()) continue;
      bool match = std::equal(value.begin(), value.end(), candidate.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      });
      if (match) out.push_back(candidate);
    }
    return out;
  };
}

}  // namespace

void AddBuiltinPrompts(Catalog& catalog) {
  catalog.AddPrompt(
      {{{"name", "summarise"},
        {"title", "Summarise a text"},
        {"description", "Ask a model for a short summary of a text."},
        {"arguments", {Argument("text", "the text to summarise", true),
                       Argument("length", "how long, e.g. 'one sentence' or '3 bullet points'", false)}}},
       [](const Json& args, const Json&) -> Result<Json> {
         std::string text = "Summarise the following text in " +
                            Arg(args, "length", "a few sentences") + ".\n\n" + Arg(args, "text");
         return Json{{"description", "Summarise a text"}, {"messages", {UserMessage(text)}}};
       },
       nullptr});
  catalog.AddPrompt(
      {{{"name", "translate"},
        {"title", "Translate a text"},
        {"description", "Ask a model to translate a text into another language."},
        {"arguments", {Argument("text", "the text to translate", true),
                       Argument("language", "the language to translate into", true)}}},
       [](const Json& args, const Json&) -> Result<Json> {
         std::string text = "Translate the following text into " + Arg(args, "language") +
                            ". Answer with the translation only.\n\n" + Arg(args, "text");
         return Json{{"description", "Translate into " + Arg(args, "language")},
                     {"messages", {UserMessage(text)}}};
       },
       CompleteFrom("language", kLanguages)});
  catalog.AddPrompt(
      {{{"name", "review_code"},
        {"title", "Review code"},
        {"description", "Ask a model to review a piece of code for bugs, clarity and style."},
        {"arguments", {Argument("code", "the code to review", true),
                       Argument("language", "its programming language", false)}}},
       [](const Json& args, const Json&) -> Result<Json> {
         std::string lang = Arg(args, "language");
         std::string text = "Review this " + (lang.empty() ? std::string("code") : lang + " code") +
                            ". Point out bugs first, then unclear parts, then style.\n\n```" +
                            lang + "\n" + Arg(args, "code") + "\n```";
         return Json{{"description", "Review code"}, {"messages", {UserMessage(text)}}};
       },
       CompleteFrom("language", kCodeLanguages)});
}

}  // namespace llmux::mcp
