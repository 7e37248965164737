// Escaping of arbitrary key and value bytes for line-oriented output (`tail`, `scan`).
#ifndef WHYCACHE_CLI_ESCAPE_H_
#define WHYCACHE_CLI_ESCAPE_H_

#include <string>
#include <string_view>

namespace whycache::cli {

// Appends `bytes` to `*out` with every byte outside printable ASCII (0x20-0x7e), and the
// backslash, written as "\xNN" (two lowercase hex digits). Tabs and newlines are thereby escaped,
// so the result never breaks a TAB-separated line.
void AppendEscaped(std::string_view bytes, std::string* out);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_ESCAPE_H_
