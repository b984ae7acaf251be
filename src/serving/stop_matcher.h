// Stop sequences over streamed text: text that might be the start of a stop sequence is
// held back until it can be decided, and the stop sequence itself is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmux::serving {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends text; returns the part that is safe to emit. After a match, stopped() is true
  // and the returned text ends just before the stop sequence.
  std::string Push(std::string_view text);
  // Returns the text still held back (at the end of generation without a match).
  std::string Flush();
  bool stopped() const { return stopped_; }
  // The stop sequence that matched (empty before a match).
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace llmux::serving
