#include "engine/runtime/constraint_vocab.h"

#include <utility>

#include "engine/runtime/json_string_bytes.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

namespace {

enum Kind : uint8_t { kPlain = 0, kSpecial = 1, kEog = 2, kNever = 3 };
}  // namespace

std::shared_ptr<const ConstraintVocab> ConstraintVocab::Build(const Tokenizer& tokenizer) {
  std::shared_ptr<ConstraintVocab> v(new ConstraintVocab());
  v->n_vocab_ = tokenizer.n_vocab();
  v->offsets_.reserve(v->n_vocab_ + 1);
  v->kind_.resize(v->n_vocab_);
  for (int32_t id = 0; id < v->n_vocab_; ++id) {
    const std::string piece = tokenizer.TokenToPiece(id);
    v->offsets_.push_back(static_cast<uint32_t>(v->bytes_.size()));
    v->bytes_ += piece;
    Kind kind = kPlain;
    if (tokenizer.IsEndOfGeneration(id)) {
      kind = kEog;
      v->eog_ids_.push_back(id);
    } else if (piece.empty()) {
      kind = kNever;  // unused/padding tokens: they would add nothing to the text
    } else if (tokenizer.IsSpecial(id)) {
      kind = kSpecial;
      v->special_ids_.push_back(id);
    }
    v->kind_[id] = kind;
  }
  v->offsets_.push_back(static_cast<uint32_t>(v->bytes_.size()));
  std::vector<int32_t> all, non_plain;
  std::vector<std::pair<int32_t, uint32_t>> plain_strings;
  std::vector<uint8_t> ok;
  for (int32_t id = 0; id < v->n_vocab_; ++id) {
    if (v->kind_[id] != kPlain) continue;
    all.push_back(id);
    const std::string_view p = v->piece(id);
    constraint::StringSuffixesOk(p, ok);
    if (!ok[0] || !constraint::EndsWithWholeChar(p)) {
      non_plain.push_back(id);
      continue;
    }
    uint32_t chars = 0;
    for (char c : p) chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    plain_strings.emplace_back(id, chars);
  }
  const auto piece = [&v](int32_t id) { return v->piece(id); };
  v->trie_ = TokenTrie::Build(std::move(all), piece);
  v->non_plain_trie_ = TokenTrie::Build(std::move(non_plain), piece);
  v->plain_strings_ = PlainStringTokens::Build(v->n_vocab_, plain_strings);
  return v;
}

std::string_view ConstraintVocab::piece(int32_t id) const {
  if (id < 0 || id >= n_vocab_) return {};
  return std::string_view(bytes_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

bool ConstraintVocab::is_special(int32_t id) const {
  return id >= 0 && id < n_vocab_ && kind_[id] == kSpecial;
}

bool ConstraintVocab::is_eog(int32_t id) const {
  return id >= 0 && id < n_vocab_ && kind_[id] == kEog;
}

}  // namespace llmux
