// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it, which is
// what the `tojson` filter of Hugging Face chat templates produces:
//  * separators ", " and ": " (with an indent: "," at line ends and ": "), keys in the
//    order given (ordered_json keeps the client's order);
//  * strings: \" \\ \n \r \t \b \f escaped, other control characters as \u00XX (lower-case
//    hex), everything else, non-ASCII included, written as is;
//  * floats as Python's repr(): shortest round-trip digits, "1.0" for integral values,
//    exponent form "1e-05" / "1e+16" outside 1e-4 <= |x| < 1e16, NaN / Infinity;
//  * integers in decimal, true / false / null.
#pragma once

#include <string>

#include "chat/chat_types.h"

namespace llmux::chat {

// indent < 0: one line. indent >= 0: Python's json.dumps(indent=N) layout.
std::string PyJsonDumps(const Json& value, int indent = -1);

// Python's repr(float(value)).
std::string PyFloatRepr(double value);

}  // namespace llmux::chat
