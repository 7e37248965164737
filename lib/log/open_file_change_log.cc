// OpenChangeLog for programs built with the file log only: they link no Connector/C++.
#include "lib/log/file_log.h"
#include "lib/log/file_uri.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {

std::unique_ptr<ChangeLog> OpenChangeLog(std::string_view uri, const LogOptions& options) {
  if (log::IsFileLogUri(uri)) {
    return log::FileLog::Open(log::FileLogDirectory(uri), log::FileLogOptions::From(options));
  }
  // Only the scheme is named: the rest of a URI may hold a password.
  const std::string_view scheme = uri.substr(0, uri.find(':'));
  throw Error(Error::Code::kInvalidArgument,
              "unsupported change log URI scheme '" + std::string(scheme) +
                  "': this program was built with the file log only; use file:DIR");
}

}  // namespace whycache
