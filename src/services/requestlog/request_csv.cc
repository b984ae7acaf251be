#include "services/requestlog/request_csv.h"

#include "base/rfc3339.h"

namespace llmux::requestlog {

std::string CsvField(std::string_view value) {
  std::string text;
  // A cell that a spreadsheet would run as a formula is kept as text.
  if (!value.empty() &&
      (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@')) {
    text = "'";
  }
  text += value;
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string CsvHeader(bool with_prompts) {
  std::string line =
      "id,time,protocol,route,principal,user_id,key_id,model,model_version,prompt_tokens,"
      "completion_tokens,cached_tokens,ttft_ms,latency_ms,status,error_class,client";
  if (with_prompts) line += ",prompt";
  return line + "\r\n";
}

std::string CsvLine(const RequestRecord& r, bool with_prompts) {
  std::string line;
  auto num = [&](int64_t v) { line += std::to_string(v) + ","; };
  auto str = [&](std::string_view v) { line += CsvField(v) + ","; };
  num(r.id);
  str(FormatRfc3339Millis(r.time_ms));
  str(r.protocol);
  str(r.route);
  str(r.principal);
  num(r.user_id);
  num(r.key_id);
  str(r.model);
  str(r.model_version);
  num(r.prompt_tokens);
  num(r.completion_tokens);
  num(r.cached_tokens);
  num(r.ttft_ms);
  num(r.latency_ms);
  num(r.status);
  str(r.error_class);
  str(r.client);
  if (with_prompts) str(r.prompt);
  line.back() = '\r';
  line += '\n';
  return line;
}

}  // namespace llmux::requestlog
