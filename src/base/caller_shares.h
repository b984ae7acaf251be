// Per-caller shares of one shared capacity (requests waiting for a model, calls in flight,
// connections from one address): each caller may hold at most `per_caller` slots, so one
// caller cannot take what every other caller needs. The capacity as a whole stays with its
// owner (the engine's queue, the connection cap); this only keeps the count per caller.
//
//   CallerShares waiting(64);
//   auto slot = waiting.TryAcquire("user:3");
//   if (!slot) return ResourceExhaustedError(...);   // the caller already holds 64
//   ... keep `slot` while the request waits; destroying it gives the slot back.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace llmux {

class CallerShares {
 public:
  // A held slot. It may outlive the CallerShares that handed it out.
  class Slot {
   public:
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    friend class CallerShares;
    struct Counts;
    Slot(std::shared_ptr<Counts> counts, std::string caller)
        : counts_(std::move(counts)), caller_(std::move(caller)) {}
    std::shared_ptr<Counts> counts_;
    std::string caller_;
  };

  // `per_caller` 0: no share (TryAcquire always succeeds, and still counts).
  explicit CallerShares(size_t per_caller);

  size_t per_caller() const { return per_caller_; }
  // A slot for `caller`, or null when it already holds its share.
  std::unique_ptr<Slot> TryAcquire(std::string_view caller);
  // Slots `caller` holds now.
  size_t Held(std::string_view caller) const;
  // Callers holding at least one slot.
  size_t callers() const;

 private:
  size_t per_caller_;
  std::shared_ptr<Slot::Counts> counts_;
};

}  // namespace llmux
