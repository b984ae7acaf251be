#include "engine/tokenizer/regex_split.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {
namespace {

// Collapsed bytes for code points >= 128, as llama.cpp assigns them.
constexpr char kOtherByte = static_cast<char>(0xD0);
constexpr char kWhitespaceByte = 0x0B;

char CollapsedByte(uint32_t cpt) {
  if (cpt < 128) return static_cast<char>(cpt);
  const CharInfo info = GetCharInfo(cpt);
  if (info.whitespace) return kWhitespaceByte;
  switch (info.cls) {
    case CharClass::kNumber:
      return static_cast<char>(0xD1);
    case CharClass::kLetter:
      return static_cast<char>(0xD2);
    case CharClass::kPunctuation:
      return static_cast<char>(0xD3);
    case CharClass::kMark:
      return static_cast<char>(0xD4);
    case CharClass::kSymbol:
      return static_cast<char>(0xD5);
    default:
      return kOtherByte;
  }
}

struct ClassSpec {
  std::string_view name;
  std::string_view members;  // bracket contents: class byte + ASCII members
};

// The ASCII members of each class, by Unicode general category. llama.cpp 81ff7ab leaves '~'
// (U+007E, Sm) out of \p{S}; Hugging Face tokenizers, which the models were trained with,
// do not, and neither do we (DeepSeek-V3's " ~~~" is one pre-token, as transformers.js has it).
constexpr std::string_view kNumberMembers = "\\xD1\\x30-\\x39";
constexpr std::string_view kLetterMembers = "\\xD2\\x41-\\x5A\\x61-\\x7A";
constexpr std::string_view kPunctMembers =
    "\\xD3\\x21-\\x23\\x25-\\x2A\\x2C-\\x2F\\x3A-\\x3B\\x3F-\\x40\\x5B-\\x5D\\x5F\\x7B\\x7D";
constexpr std::string_view kMarkMembers = "\\xD4";
constexpr std::string_view kSymbolMembers = "\\xD5\\x24\\x2B\\x3C-\\x3E\\x5E\\x60\\x7C\\x7E";

constexpr ClassSpec kClasses[] = {
    {"N", kNumberMembers},  {"L", kLetterMembers},  {"P", kPunctMembers},   {"M", kMarkMembers},
    {"S", kSymbolMembers},  {"Lu", kLetterMembers}, {"Ll", kLetterMembers}, {"Lt", kLetterMembers},
    {"Lm", kLetterMembers}, {"Lo", kLetterMembers},
};

const ClassSpec* FindClass(std::string_view name) {
  for (const auto& c : kClasses) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

RegexText::RegexText(const std::vector<uint32_t>& c) : cpts(c) {
  collapsed.resize(cpts.size());
  cpt_bytes.reserve(cpts.size() + 1);
  utf8.reserve(cpts.size());
  for (size_t i = 0; i < cpts.size(); ++i) {
    const uint32_t cpt = cpts[i];
    collapsed[i] = CollapsedByte(cpt);
    cpt_bytes.push_back(static_cast<uint32_t>(utf8.size()));
    if (cpt >= 128 && GetCharInfo(cpt).whitespace) {
      utf8.push_back(kWhitespaceByte);
    } else if (cpt >= 0xD800 && cpt <= 0xDFFF) {
      AppendUtf8(kReplacementChar, utf8);  // PCRE2 needs valid UTF-8
    } else {
      AppendUtf8(cpt, utf8);
    }
  }
  cpt_bytes.push_back(static_cast<uint32_t>(utf8.size()));
}

Result<std::string> CollapsePattern(std::string_view pattern, bool* uses_classes) {
  std::string out;
  bool inside = false;
  *uses_classes = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size() && pattern[i + 1] != 'p') {
      out += pattern.substr(i, 2);  // keep escapes (\[, \], \\ ...) as they are
      ++i;
      continue;
    }
    if (c == '[' && !inside) {
      inside = true;
      out += c;
      continue;
    }
    if (c == ']' && inside) {
      inside = false;
      out += c;
      continue;
    }
    if (c == '\\' && i + 2 < pattern.size() && pattern[i + 2] == '{') {
      const size_t close = pattern.find('}', i + 3);
      if (close == std::string_view::npos)
        return InvalidArgumentError("unterminated \\p{ in regex");
      const ClassSpec* spec = FindClass(pattern.substr(i + 3, close - i - 3));
      if (spec == nullptr) {
        return UnimplementedError("unsupported Unicode class in regex: " +
                                  std::string(pattern.substr(i, close - i + 1)));
      }
      *uses_classes = true;
      if (!inside) out += '[';
      out += spec->members;
      if (!inside) out += ']';
      i = close;
      continue;
    }
    out += c;
  }
  return out;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(std::string_view pattern) {
  bool uses_classes = false;
  LLMUX_ASSIGN_OR_RETURN(std::string collapsed, CollapsePattern(pattern, &uses_classes));
  std::string_view source = pattern;
  uint32_t options = PCRE2_UTF;
  if (uses_classes) {
    for (unsigned char c : pattern) {
      if (c >= 0x80) {
        return UnimplementedError("regex mixes Unicode classes and non-ASCII characters");
      }
    }
    source = collapsed;
    options = 0;  // byte-wise over the collapsed text
  }
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                   options, &error, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return InvalidArgumentError("bad pre-tokenizer regex at offset " +
                                std::to_string(error_offset) + ": " +
                                reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back if unavailable
  std::unique_ptr<RegexSplitter> splitter(new RegexSplitter());
  splitter->code_ = code;
  splitter->collapsed_ = uses_classes;
  return splitter;
}

std::vector<size_t> RegexSplitter::Split(const RegexText& text,
                                         const std::vector<size_t>& pieces) const {
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  std::vector<size_t> out;
  out.reserve(pieces.size());
  size_t start = 0;  // in code points
  for (const size_t len : pieces) {
    // Subject range for this piece, in code units of the searched string.
    const char* subject;
    size_t subject_len;
    if (collapsed_) {
      subject = text.collapsed.data() + start;
      subject_len = len;
    } else {
      subject = text.utf8.data() + text.cpt_bytes[start];
      subject_len = text.cpt_bytes[start + len] - text.cpt_bytes[start];
    }
    // Code-unit offset -> code points from the piece start.
    auto to_cpts = [&](size_t unit) -> size_t {
      if (collapsed_) return unit;
      const uint32_t target = text.cpt_bytes[start] + static_cast<uint32_t>(unit);
      size_t lo = start, hi = start + len;  // binary search in cpt_bytes[start..start+len]
      while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (text.cpt_bytes[mid] < target)
          lo = mid + 1;
        else
          hi = mid;
      }
      return lo - start;
    };
    size_t last = 0;  // end of the previous match, in code points
    size_t unit = 0;  // search position, in code units
    while (unit <= subject_len) {
      const uint32_t options = collapsed_ ? 0 : PCRE2_NO_UTF_CHECK;
      int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject), subject_len, unit, options,
                           md, nullptr);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        // A resource limit (e.g. the JIT stack): retry with the interpreter.
        rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject), subject_len, unit,
                         options | PCRE2_NO_JIT, md, nullptr);
      }
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        // Still failing: leave one code point unmatched and go on after it.
        const size_t here = to_cpts(unit);
        if (here >= len) break;
        unit = collapsed_ ? unit + 1 : text.cpt_bytes[start + here + 1] - text.cpt_bytes[start];
        continue;
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t m_begin = to_cpts(ov[0]);
      const size_t m_end = to_cpts(ov[1]);
      if (m_end == m_begin) {
        // Empty match: nothing to emit; step over one code point and search again.
        if (m_begin >= len) break;
        unit = collapsed_ ? ov[0] + 1 : text.cpt_bytes[start + m_begin + 1] - text.cpt_bytes[start];
        continue;
      }
      if (m_begin > last) out.push_back(m_begin - last);
      out.push_back(m_end - m_begin);
      last = m_end;
      unit = ov[1];
    }
    if (last < len) out.push_back(len - last);
    start += len;
  }
  pcre2_match_data_free(md);
  return out;
}

}  // namespace llmux::tokenizer
