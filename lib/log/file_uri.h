// The "file:" change log URIs.
#ifndef WHYCACHE_LIB_LOG_FILE_URI_H_
#define WHYCACHE_LIB_LOG_FILE_URI_H_

#include <string>
#include <string_view>

namespace whycache::log {

// True if `uri` names a file log ("file:" scheme).
bool IsFileLogUri(std::string_view uri);

// The directory named by "file:DIR" (DIR relative or absolute) or "file:///abs/dir".
// Throws Error(kInvalidArgument) naming the URI if it has no directory or names a remote host
// ("file://host/dir").
std::string FileLogDirectory(std::string_view uri);

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_FILE_URI_H_
