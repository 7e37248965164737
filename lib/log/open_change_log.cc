// OpenChangeLog: picks the implementation a URI names.
#include "lib/log/file_log.h"
#include "lib/log/file_uri.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "lib/log/mysql/mysql_uri.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {

std::unique_ptr<ChangeLog> OpenChangeLog(std::string_view uri, const LogOptions& options) {
  if (log::IsFileLogUri(uri)) {
    return log::FileLog::Open(log::FileLogDirectory(uri), log::FileLogOptions::From(options));
  }
  if (uri.starts_with("mysql://")) {
    mysql_log::MysqlLogOptions mysql_options;
    mysql_options.reconnect_budget = options.reconnect_budget;
    return mysql_log::OpenMysqlChangeLog(uri, options, mysql_options);
  }
  throw Error(Error::Code::kInvalidArgument,
              "unsupported change log URI '" + mysql_log::RedactedUri(uri) +
                  "': use file:DIR or mysql://USER@HOST:PORT/DATABASE");
}

}  // namespace whycache
