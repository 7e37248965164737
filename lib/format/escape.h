// Printing arbitrary bytes as text: in messages, command output and JSON.
#ifndef WHYCACHE_LIB_FORMAT_ESCAPE_H_
#define WHYCACHE_LIB_FORMAT_ESCAPE_H_

#include <string>
#include <string_view>

namespace whycache::format {

// `bytes` with every byte outside printable ASCII, and tab, newline and backslash, written as
// \xNN (two lowercase hex digits), so one entry fits one line and the bytes can be recovered.
std::string EscapeBytes(std::string_view bytes);

// `bytes` as a JSON string literal, quotes included. Bytes outside printable ASCII become
// \u00NN escapes: byte b reads back as code point b (Latin-1), so binary data round-trips.
std::string JsonString(std::string_view bytes);

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_ESCAPE_H_
