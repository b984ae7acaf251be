// Compact open-addressing tables for the tokenizer's hot lookups: text -> id (TextTable) and
// symbol pair -> merge (PairMap). With 8- and 16-byte slots, a 150k-entry table stays a few
// MB, which keeps building and probing it cheap compared with node-based maps.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace llmux::tokenizer {

inline uint64_t HashBytes(std::string_view s) {
  // 64-bit multiply-mix over 8-byte chunks (not cryptographic; inputs are token texts).
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0xCBF29CE484222325ull ^ (s.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < s.size(); ++k)
    tail |= uint64_t{static_cast<uint8_t>(s[i + k])} << (8 * k);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  return h;
}

// Power-of-two capacity with a load factor of at most 2/3.
inline size_t TableCapacityFor(size_t n) {
  size_t cap = 16;
  while (cap * 2 < n * 3) cap <<= 1;
  return cap;
}

// Append-only list of byte strings with an index from text to id. Adding a text that is
// already present gives it the new id in the index (the last one wins); both ids keep their text.
class TextTable {
 public:
  void Reserve(size_t n, size_t bytes) {
    blob_.reserve(bytes);
    offsets_.reserve(n + 1);
    if (TableCapacityFor(n) > slots_.size()) Rehash(TableCapacityFor(n));
  }
  int32_t size() const { return static_cast<int32_t>(offsets_.size() - 1); }
  std::string_view text(int32_t id) const {
    return std::string_view(blob_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  int32_t Add(std::string_view s) {
    const auto id = size();
    blob_.insert(blob_.end(), s.begin(), s.end());
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
    if ((static_cast<size_t>(id) + 1) * 3 > slots_.size() * 2) Rehash(TableCapacityFor(id + 1));
    const uint64_t h = HashBytes(s);
    *Probe(s, h) = Slot{static_cast<uint32_t>(h >> 32), id};
    return id;
  }
  // Id of `s`, or -1.
  int32_t Find(std::string_view s) const {
    if (slots_.empty()) return -1;
    return const_cast<TextTable*>(this)->Probe(s, HashBytes(s))->id;
  }
  size_t bytes() const { return blob_.size(); }

 private:
  struct Slot {
    uint32_t tag = 0;  // high hash bits
    int32_t id = -1;   // -1: empty
  };
  Slot* Probe(std::string_view s, uint64_t h) {
    const size_t mask = slots_.size() - 1;
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.id < 0 || (slot.tag == tag && text(slot.id) == s)) return &slot;
    }
  }
  void Rehash(size_t cap) {
    slots_.assign(cap, Slot{});
    // Re-add in id order so a repeated text ends up mapping to its last id.
    for (int32_t id = 0; id < size(); ++id) {
      const std::string_view s = text(id);
      const uint64_t h = HashBytes(s);
      *Probe(s, h) = Slot{static_cast<uint32_t>(h >> 32), id};
    }
  }

  std::vector<char> blob_;
  std::vector<uint32_t> offsets_ = {0};
  std::vector<Slot> slots_;
};

// Pair of non-negative int32 ids -> two int32 values; the first insert of a key wins.
class PairMap {
 public:
  struct Value {
    int32_t a;
    int32_t b;
  };
  void Reserve(size_t n) {
    if (TableCapacityFor(n) > slots_.size()) Rehash(TableCapacityFor(n));
  }
  void InsertIfAbsent(int32_t x, int32_t y, Value v) {
    if ((size_ + 1) * 3 > slots_.size() * 2) Rehash(TableCapacityFor(size_ + 1));
    Slot* s = Probe(Key(x, y));
    if (s->key == kEmpty) {
      *s = Slot{Key(x, y), v};
      ++size_;
    }
  }
  const Value* Find(int32_t x, int32_t y) const {
    if (slots_.empty()) return nullptr;
    const Slot* s = const_cast<PairMap*>(this)->Probe(Key(x, y));
    return s->key == kEmpty ? nullptr : &s->value;
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // ids are non-negative, so never a real key
  struct Slot {
    uint64_t key = kEmpty;
    Value value{};
  };
  static uint64_t Key(int32_t x, int32_t y) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(x)) << 32) | static_cast<uint32_t>(y);
  }
  static uint64_t Mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  Slot* Probe(uint64_t key) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key || slots_[i].key == kEmpty) return &slots_[i];
    }
  }
  void Rehash(size_t cap) {
    std::vector<Slot> old(cap);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.key != kEmpty) *Probe(s.key) = s;
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace llmux::tokenizer
