// Printing arbitrary bytes as text.
#ifndef WHYCACHE_CLI_ESCAPE_H_
#define WHYCACHE_CLI_ESCAPE_H_

#include <string>
#include <string_view>

namespace whycache::cli {

// `bytes` with every byte outside printable ASCII, and tab, newline and backslash, written as
// \xNN (two lowercase hex digits), so one entry fits one line and the bytes can be recovered.
std::string EscapeBytes(std::string_view bytes);

// `bytes` as a JSON string literal, quotes included. Bytes outside printable ASCII become
// \u00NN escapes: byte b reads back as code point b (Latin-1), so binary data round-trips.
std::string JsonString(std::string_view bytes);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_ESCAPE_H_
