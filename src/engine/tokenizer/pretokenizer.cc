#include "engine/tokenizer/pretokenizer.h"

#include <optional>
#include <string>

#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {
namespace {

uint32_t AsciiLower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// llama.cpp's regex lists for the pre-tokenizers that have no hand-written matcher.
const char* const kDeepseekV3Regexes[] = {
    "\\p{N}{1,3}",
    "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",  // [一-龥぀-ゟ゠-ヿ]+
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};
const char* const kGpt2Regexes[] = {
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
};
const char* const kDefaultRegexes[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

}  // namespace

void SplitGpt4Style(const std::vector<uint32_t>& cpts, const std::vector<CharInfo>& info,
                    size_t begin, size_t end, int max_digits, std::vector<size_t>& out) {
  auto is_letter = [&](size_t p) { return p < end && info[p].is_letter(); };
  auto is_number = [&](size_t p) { return p < end && info[p].is_number(); };
  auto is_space = [&](size_t p) { return p < end && info[p].whitespace; };
  auto is_crlf = [&](size_t p) { return p < end && (cpts[p] == '\r' || cpts[p] == '\n'); };
  // [^\s\p{L}\p{N}]: any code point that is not whitespace, letter or number.
  auto is_other = [&](size_t p) {
    return p < end && !info[p].whitespace && !info[p].is_letter() && !info[p].is_number();
  };

  size_t p = begin;
  auto emit = [&](size_t word_end) {
    if (word_end > p) out.push_back(word_end - p);
    p = word_end;
  };
  while (p < end) {
    const uint32_t c = cpts[p];
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c == '\'' && p + 1 < end) {
      const uint32_t n1 = AsciiLower(cpts[p + 1]);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        emit(p + 2);
        continue;
      }
      if (p + 2 < end) {
        const uint32_t n2 = AsciiLower(cpts[p + 2]);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          emit(p + 3);
          continue;
        }
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || info[p].is_number()) &&
        (info[p].is_letter() || is_letter(p + 1))) {
      size_t q = p + 1;
      while (is_letter(q)) ++q;
      emit(q);
      continue;
    }
    // \p{N}{1,max_digits}
    if (info[p].is_number()) {
      size_t q = p;
      while (is_number(q) && q - p < static_cast<size_t>(max_digits)) ++q;
      emit(q);
      continue;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    const size_t punct_start = (c == ' ') ? p + 1 : p;
    if (is_other(punct_start)) {
      size_t q = punct_start;
      while (is_other(q)) ++q;
      while (is_crlf(q)) ++q;
      emit(q);
      continue;
    }
    // \s*[\r\n]+ | \s+(?!\S) | \s+
    size_t q = p;
    size_t after_last_crlf = 0;
    while (is_space(q)) {
      if (cpts[q] == '\r' || cpts[q] == '\n') after_last_crlf = q + 1;
      ++q;
    }
    if (after_last_crlf > 0) {
      emit(after_last_crlf);
    } else if (q - p > 1 && q < end) {
      emit(q - 1);  // leave the last space to prefix the next word
    } else if (q > p) {
      emit(q);
    } else {
      emit(p + 1);  // unreachable for valid classes; never stall
    }
  }
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view name) {
  auto pre = std::unique_ptr<PreTokenizer>(new PreTokenizer());
  auto add_regexes = [&](auto& list) -> Status {
    for (const char* pattern : list) {
      Step step;
      LLMUX_ASSIGN_OR_RETURN(step.regex, RegexSplitter::Create(pattern));
      pre->steps_.push_back(std::move(step));
    }
    return Status::Ok();
  };
  if (name == "qwen2" || name == "deepseek-r1-qwen") {
    pre->steps_.push_back(Step{1, nullptr});
  } else if (name == "llama3" || name == "llama-v3" || name == "llama-bpe") {
    pre->steps_.push_back(Step{3, nullptr});
  } else if (name == "deepseek-v3") {
    LLMUX_RETURN_IF_ERROR(add_regexes(kDeepseekV3Regexes));
  } else if (name == "gpt-2" || name == "gpt2") {
    LLMUX_RETURN_IF_ERROR(add_regexes(kGpt2Regexes));
  } else if (name.empty() || name == "default") {
    LLMUX_RETURN_IF_ERROR(add_regexes(kDefaultRegexes));
  } else {
    return UnimplementedError("unsupported pre-tokenizer '" + std::string(name) + "'");
  }
  return pre;
}

std::vector<size_t> PreTokenizer::Split(const std::vector<uint32_t>& cpts) const {
  std::vector<size_t> pieces;
  if (cpts.empty()) return pieces;
  pieces.push_back(cpts.size());
  std::vector<CharInfo> info;
  std::optional<RegexText> regex_text;
  for (const Step& step : steps_) {
    if (step.gpt4_max_digits > 0) {
      if (info.empty()) {
        info.reserve(cpts.size());
        for (uint32_t c : cpts) info.push_back(GetCharInfo(c));
      }
      std::vector<size_t> next;
      next.reserve(cpts.size() / 3 + 1);
      size_t start = 0;
      for (size_t len : pieces) {
        SplitGpt4Style(cpts, info, start, start + len, step.gpt4_max_digits, next);
        start += len;
      }
      pieces = std::move(next);
    } else {
      if (!regex_text) regex_text.emplace(cpts);
      pieces = step.regex->Split(*regex_text, pieces);
    }
  }
  return pieces;
}

}  // namespace llmux::tokenizer
