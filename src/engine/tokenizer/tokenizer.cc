#include "engine/tokenizer/tokenizer.h"

#include <cstdio>

#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/spm.h"
#include "engine/tokenizer/unicode.h"

namespace llmux {

using tokenizer::BpeModel;
using tokenizer::PreTokenizer;
using tokenizer::SpmModel;
using tokenizer::Vocab;
using tokenizer::VocabType;

namespace {

constexpr std::string_view kSpmSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos);
  s.swap(out);
}

// Byte-level BPE token text -> bytes. A code point outside the GPT-2 alphabet is written the
// way llama.cpp writes it: "[UNK_BYTE_0x<hex of its UTF-8>" + the whole token text + "]".
std::string DecodeGpt2Text(std::string_view text) {
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    const uint32_t cpt = tokenizer::NextCodepointLenient(text, &pos);
    const int byte = tokenizer::Gpt2CodepointToByte(cpt);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
      continue;
    }
    std::string utf8;
    tokenizer::AppendUtf8(cpt, utf8);
    out += "[UNK_BYTE_0x";
    for (unsigned char c : utf8) {
      char hex[3];
      std::snprintf(hex, sizeof(hex), "%02x", c);
      out += hex;
    }
    out.append(text);
    out += "]";
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// llama.cpp's clean_up_tokenization_spaces, three passes: drop the space before ? ! . ,
// drop the spaces around a lone apostrophe; drop the space before 's 'm 're 've.
void CleanSpaces(std::string& text) {
  if (text.empty()) return;
  std::string out;
  out.reserve(text.size());
  // Pass 1.
  out.push_back(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) out.pop_back();
    out.push_back(x);
  }
  text.swap(out);
  // Pass 2: " ' " -> "'". The skipped space is overwritten with NUL in place, as in llama.cpp,
  // so it no longer counts as a space for the next character.
  out.clear();
  out.push_back(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (x == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
      out.pop_back();
      text[++i] = '\0';
    }
    out.push_back(x);
  }
  text.swap(out);
  // Pass 3.
  out.clear();
  out.push_back(text[0]);
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < text.size()) {
      const char x1 = text[i + 1];
      if (x1 == 't' || x1 == 'd') {
        // kept: " 't", " 'd"
      } else if (x1 == 's' || x1 == 'm') {
        out.pop_back();
      } else if (i + 2 < text.size()) {
        const char x2 = text[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) out.pop_back();
      }
    }
    out.push_back(x);
  }
  text.swap(out);
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(tokenizer::VocabData data) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  LLMUX_ASSIGN_OR_RETURN(t->vocab_, Vocab::Build(std::move(data)));
  if (t->vocab_->type() == VocabType::kBpe) {
    LLMUX_ASSIGN_OR_RETURN(t->pre_, PreTokenizer::Create(t->vocab_->pre()));
    LLMUX_ASSIGN_OR_RETURN(t->bpe_, BpeModel::Create(*t->vocab_));
  } else {
    t->spm_ = std::make_unique<SpmModel>(*t->vocab_);
  }
  t->pieces_.reserve(t->vocab_->size());
  for (int32_t id = 0; id < t->vocab_->size(); ++id) t->pieces_.push_back(t->MakePiece(id));
  return t;
}

std::string Tokenizer::MakePiece(int32_t id) const {
  const uint32_t attr = vocab_->attr(id);
  const std::string_view text = vocab_->text(id);
  if (attr & (tokenizer::kAttrUnknown | tokenizer::kAttrControl | tokenizer::kAttrUserDefined)) {
    return std::string(text);
  }
  if (attr & tokenizer::kAttrNormal) {
    if (vocab_->type() == VocabType::kBpe) return DecodeGpt2Text(text);
    std::string piece(text);
    ReplaceAll(piece, kSpmSpace, " ");
    return piece;
  }
  if (attr & tokenizer::kAttrByte) {
    // "<0xNN>": the hex digits at offset 3 (llama.cpp parses them with strtol).
    int value = 0;
    for (size_t i = 3; i < text.size() && i < 5 && HexValue(text[i]) >= 0; ++i)
      value = value * 16 + HexValue(text[i]);
    return text.size() >= 3 ? std::string(1, static_cast<char>(value)) : std::string();
  }
  return std::string();  // unused and undefined tokens render as nothing, as in llama.cpp
}

std::vector<Tokenizer::Fragment> Tokenizer::Partition(std::string_view text,
                                                      bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (const int32_t id : vocab_->special_tokens()) {
    if (!parse_special && (vocab_->attr(id) & (tokenizer::kAttrControl | tokenizer::kAttrUnknown)))
      continue;
    const std::string_view special = vocab_->text(id);
    if (text.find(special) == std::string_view::npos) continue;  // cheap pre-check
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.offset;
      const size_t end = f.offset + f.length;
      while (pos < end) {
        const size_t hit = text.substr(0, end).find(special, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, hit - pos});
        next.push_back({id, hit, special.size()});
        pos = hit + special.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    fragments.swap(next);
  }
  return fragments;
}

void Tokenizer::EncodeBpeText(std::string_view text, std::vector<int32_t>& out) const {
  const std::vector<uint32_t> cpts = tokenizer::DecodeUtf8Lenient(text);
  const std::vector<size_t> words = pre_->Split(cpts);
  BpeModel::Scratch scratch;
  std::string word;
  size_t start = 0;
  for (const size_t len : words) {
    word.clear();
    for (size_t i = start; i < start + len; ++i) tokenizer::AppendUtf8(cpts[i], word);
    bpe_->EncodeWord(word, scratch, out);
    start += len;
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  const std::vector<Fragment> fragments = Partition(text, parse_special);
  const bool add_bos = add_special && vocab_->add_bos() && vocab_->bos_id() >= 0;
  const bool add_eos = add_special && vocab_->add_eos() && vocab_->eos_id() >= 0;
  if (add_bos) out.push_back(vocab_->bos_id());
  if (vocab_->type() == VocabType::kSpm) {
    SpmModel::Scratch scratch;
    bool prev_special = true;  // the first text gets the space prefix too
    std::string piece;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      // Escape spaces as U+2581, with one more in front after BOS or a special token.
      piece.clear();
      if (vocab_->add_space_prefix() && prev_special) piece.append(kSpmSpace);
      for (char c : text.substr(f.offset, f.length)) {
        if (c == ' ') {
          piece.append(kSpmSpace);
        } else {
          piece.push_back(c);
        }
      }
      spm_->Encode(piece, scratch, out);
      prev_special = false;
    }
  } else {
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        out.push_back(f.token);
      } else {
        EncodeBpeText(text.substr(f.offset, f.length), out);
      }
    }
  }
  if (add_eos) out.push_back(vocab_->eos_id());
  return out;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::string text;
  bool remove_space = vocab_->add_space_prefix();
  for (const int32_t id : ids) {
    std::string_view piece = vocab_->Valid(id) ? std::string_view(pieces_[id]) : std::string_view();
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    remove_space = false;
    text.append(piece);
  }
  if (vocab_->clean_spaces()) CleanSpaces(text);
  return text;
}

std::string Tokenizer::TokenToPiece(int32_t id) const {
  return vocab_->Valid(id) ? pieces_[id] : std::string();
}
int32_t Tokenizer::n_vocab() const { return vocab_->size(); }
int32_t Tokenizer::bos_id() const { return vocab_->bos_id(); }
int32_t Tokenizer::eos_id() const { return vocab_->eos_id(); }
bool Tokenizer::add_bos() const { return vocab_->add_bos(); }
bool Tokenizer::IsEndOfGeneration(int32_t id) const { return vocab_->IsEog(id); }
std::string_view Tokenizer::TokenText(int32_t id) const {
  return vocab_->Valid(id) ? vocab_->text(id) : std::string_view();
}
int32_t Tokenizer::FindToken(std::string_view text) const { return vocab_->Find(text); }
bool Tokenizer::IsSpecial(int32_t id) const {
  return vocab_->Valid(id) &&
         (vocab_->attr(id) &
          (tokenizer::kAttrControl | tokenizer::kAttrUnknown | tokenizer::kAttrUserDefined));
}

}  // namespace llmux
