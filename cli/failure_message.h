// The one line the tool prints on stderr when a command fails.
#ifndef WHYCACHE_CLI_FAILURE_MESSAGE_H_
#define WHYCACHE_CLI_FAILURE_MESSAGE_H_

#include <string>

#include "whycache/error.h"

namespace whycache::cli {

// "whycache: " and the error's message, which names the file, key, id or server. A local file
// that could not grow (no space left, a quota or a file size limit) gets what to do appended:
// the library's message names the file and the system's reason, not the remedy.
std::string FailureMessage(const Error& error);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_FAILURE_MESSAGE_H_
