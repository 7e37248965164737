// The mysql:// change-log URI: where the log lives and how to log in, minus the password.
#ifndef WHYCACHE_LIB_LOG_MYSQL_MYSQL_URI_H_
#define WHYCACHE_LIB_LOG_MYSQL_MYSQL_URI_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::mysql_log {

inline constexpr std::string_view kDefaultTablePrefix = "whycache";
inline constexpr size_t kMaxTablePrefixBytes = 32;
// The URI parameter that accepts a server failing CheckServerSettings (server_settings.h).
inline constexpr std::string_view kAllowUnsafeServerSettingsParameter =
    "allow_unsafe_server_settings";

// A server reached over TCP.
struct MysqlServer {
  std::string host;
  int port = 3306;

  std::string Address() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const MysqlServer&, const MysqlServer&) = default;
};

// mysql://USER@HOST[:PORT]/DATABASE[?table=NAME][&socket=PATH][&defaults-file=PATH]
//     [&allow_unsafe_server_settings=1][&durable_reads=0|1][&replicas=HOST[:PORT],...]
//     [&machine=NAME]
//
// HOST:PORT (or socket) names the primary; replicas names read replicas of it, reached over TCP
// with the same user, password source and database.
struct MysqlUri {
  std::string user;
  std::string host;
  int port = 3306;
  std::string database;
  std::string table_prefix{kDefaultTablePrefix};
  std::string socket;         // When set, connect through this Unix socket instead of TCP.
  std::string defaults_file;  // An option file whose [client] password is used.
  // Accept a server whose settings make commits less than durable (see
  // LogOptions::allow_unsafe_server_settings).
  bool allow_unsafe_server_settings = false;
  // durable_reads=1 or 0: whether reads make what they return durable always or never
  // (MysqlLogOptions::durable_reads); unset, the options decide.
  std::optional<bool> durable_reads;
  // Replicas of the primary that reads go to (see read_servers.h), in the order given.
  std::vector<MysqlServer> replicas;
  // The name that picks this machine's preferred replica (MysqlLogOptions::machine_name); empty
  // means the options decide.
  std::string machine;

  // "user@host:port": names the server and account in messages.
  std::string Endpoint() const;
  // The URI in canonical form; never contains a password (the URI cannot hold one).
  std::string Describe() const;
  // This URI with replica i as its server (over TCP) and no replicas.
  // REQUIRES: i < replicas.size().
  MysqlUri ReplicaUri(size_t i) const;
};

// Parses `uri`. Throws Error(kInvalidArgument) naming the URI (with any password part blanked
// out) for anything malformed: wrong scheme, missing user, host or database, bad port, an
// unknown parameter, a flag other than 0 or 1, a table prefix that is not a valid identifier, a
// replica list with an empty, malformed or repeated entry or one that is the primary, or a
// password in the URI.
MysqlUri ParseMysqlUri(std::string_view uri);

// `uri` for messages: a "USER:PASSWORD@" part after any "SCHEME://" becomes "USER:***@", so
// that a mistyped URI never prints a secret, and bytes that are not printable ASCII are escaped
// (format::EscapeBytes), so that the message stays one line of text.
std::string RedactedUri(std::string_view uri);

// True if `prefix` may name the log's tables: 1 to kMaxTablePrefixBytes ASCII letters, digits
// and underscores, not starting with a digit. It is the only text ever spliced into SQL.
bool IsValidTablePrefix(std::string_view prefix);

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_MYSQL_URI_H_
