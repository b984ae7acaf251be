// The request log as CSV (RFC 4180): a header line, then one line per record, CRLF-terminated;
// a field holding a comma, a quote, CR or LF is quoted with its quotes doubled. A field that
// starts with = + - @ (a spreadsheet formula) gets a leading apostrophe.
#pragma once

#include <string>
#include <string_view>

#include "services/requestlog/request_record.h"

namespace llmux::requestlog {

std::string CsvHeader(bool with_prompts);
std::string CsvLine(const RequestRecord& record, bool with_prompts);
// One field, quoted when it must be.
std::string CsvField(std::string_view value);

}  // namespace llmux::requestlog
