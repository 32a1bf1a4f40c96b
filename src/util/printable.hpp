// Text from files and command lines, made safe to print in a message (control path).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace seqwatch::util {

// Control bytes, DEL and bytes that are not UTF-8 as \xHH (\t, \n, \r by their names; C1
// controls as \u0080 .. \u009f); valid UTF-8 passes unchanged. Line and paragraph separators
// and the bidirectional overrides (U+2028, U+2029, U+202A .. U+202E, U+2066 .. U+2069) are
// escaped as \uXXXX too, as they rearrange what a terminal shows. Backslashes are left as
// typed. Messages quote what the user wrote, which may hold any byte: a NUL printed with %s
// cut a whole report short, and raw control bytes reach the terminal.
inline std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto byte = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  const auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(i) >= lo && byte(i) <= hi; };
  char buf[8];
  for (size_t i = 0; i < s.size();) {
    const unsigned c = byte(i);
    size_t n = 0;  // length of a valid UTF-8 sequence starting here (0: escape the byte)
    if (c >= 0x20 && c < 0x7F) n = 1;
    else if (c >= 0xC2 && c <= 0xDF) n = cont(i + 1) ? 2 : 0;
    else if (c == 0xE0) n = cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
    else if (c == 0xED) n = cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
    else if (c >= 0xE1 && c <= 0xEF) n = cont(i + 1) && cont(i + 2) ? 3 : 0;
    else if (c == 0xF0) n = cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (c >= 0xF1 && c <= 0xF3) n = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (c == 0xF4) n = cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    const unsigned b1 = byte(i + 1), b2 = byte(i + 2);
    if (n == 2 && c == 0xC2 && b1 <= 0x9F) {  // U+0080 .. U+009F: C1 controls
      std::snprintf(buf, sizeof buf, "\\u%04x", b1);
      out += buf;
    } else if (n == 3 && c == 0xE2 && ((b1 == 0x80 && b2 >= 0xA8 && b2 <= 0xAE) || (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9))) {
      std::snprintf(buf, sizeof buf, "\\u%04x", 0x2000u + ((b1 & 0x3Fu) << 6) + (b2 & 0x3Fu));
      out += buf;
    } else if (n > 0) {
      out.append(s.substr(i, n));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
    i += n > 0 ? n : 1;
  }
  return out;
}

}  // namespace seqwatch::util
