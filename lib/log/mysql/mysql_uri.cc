#include "lib/log/mysql/mysql_uri.h"

#include <algorithm>
#include <charconv>

#include "lib/format/escape.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

constexpr std::string_view kScheme = "mysql://";

[[noreturn]] void Malformed(std::string_view uri, const std::string& why) {
  throw Error(Error::Code::kInvalidArgument,
              "malformed MySQL log URI '" + RedactedUri(uri) + "': " + why +
                  " (expected mysql://USER@HOST:PORT/DATABASE[?table=NAME][&socket=PATH]"
                  "[&defaults-file=PATH][&allow_unsafe_server_settings=1][&durable_reads=0|1]"
                  "[&replicas=HOST:PORT,HOST:PORT][&machine=NAME])");
}

// The value of a 0-or-1 parameter.
bool ParseFlag(std::string_view uri, std::string_view name, std::string_view value) {
  if (value != "0" && value != "1") Malformed(uri, std::string(name) + " must be 0 or 1");
  return value == "1";
}

bool IsIdentifierChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Parses "HOST[:PORT]"; `what` names it in messages ("the host", "replica 'X'").
MysqlServer ParseServer(std::string_view uri, std::string_view text, const std::string& what) {
  MysqlServer server;
  std::string_view host = text;
  if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    std::string_view port = text.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      Malformed(uri, "the port of " + what + " is not a number from 1 to 65535");
    }
    server.port = value;
  }
  if (host.empty()) Malformed(uri, what + " has an empty host");
  server.host = std::string(host);
  return server;
}

std::vector<MysqlServer> ParseReplicas(std::string_view uri, std::string_view list,
                                       const MysqlUri& primary) {
  std::vector<MysqlServer> replicas;
  for (;;) {
    const size_t comma = list.find(',');
    const std::string_view entry = list.substr(0, comma);
    if (entry.empty()) Malformed(uri, "replicas has an empty entry");
    const std::string what = "replica '" + format::EscapeBytes(entry) + "'";
    MysqlServer replica = ParseServer(uri, entry, what);
    if (primary.socket.empty() && replica.host == primary.host && replica.port == primary.port) {
      Malformed(uri, what + " is the primary");
    }
    if (std::find(replicas.begin(), replicas.end(), replica) != replicas.end()) {
      Malformed(uri, what + " is listed twice");
    }
    replicas.push_back(std::move(replica));
    if (comma == std::string_view::npos) return replicas;
    list = list.substr(comma + 1);
  }
}

}  // namespace

std::string RedactedUri(std::string_view uri) {
  const size_t scheme_end = uri.find("://");
  const size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const size_t at = uri.find('@', start);
  const size_t colon = uri.find(':', start);
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) {
    return format::EscapeBytes(uri);
  }
  return format::EscapeBytes(uri.substr(0, colon)) + ":***" + format::EscapeBytes(uri.substr(at));
}

bool IsValidTablePrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxTablePrefixBytes) return false;
  if (prefix[0] >= '0' && prefix[0] <= '9') return false;
  for (char c : prefix) {
    if (!IsIdentifierChar(c)) return false;
  }
  return true;
}

std::string MysqlUri::Endpoint() const { return user + "@" + host + ":" + std::to_string(port); }

std::string MysqlUri::Describe() const {
  std::string s = "mysql://" + Endpoint() + "/" + database + "?table=" + table_prefix;
  if (!socket.empty()) s += "&socket=" + socket;
  if (!defaults_file.empty()) s += "&defaults-file=" + defaults_file;
  if (allow_unsafe_server_settings) {
    s += "&" + std::string(kAllowUnsafeServerSettingsParameter) + "=1";
  }
  if (durable_reads) s += *durable_reads ? "&durable_reads=1" : "&durable_reads=0";
  for (size_t i = 0; i < replicas.size(); ++i) {
    s += (i == 0 ? "&replicas=" : ",") + replicas[i].Address();
  }
  if (!machine.empty()) s += "&machine=" + machine;
  return s;
}

MysqlUri MysqlUri::ReplicaUri(size_t i) const {
  MysqlUri replica = *this;
  replica.host = replicas[i].host;
  replica.port = replicas[i].port;
  replica.socket.clear();
  replica.replicas.clear();
  return replica;
}

MysqlUri ParseMysqlUri(std::string_view uri) {
  if (!uri.starts_with(kScheme)) Malformed(uri, "it does not start with mysql://");
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  MysqlUri result;

  size_t at = rest.find('@');
  if (at == std::string_view::npos || at == 0) Malformed(uri, "no USER@ before the host");
  std::string_view user = rest.substr(0, at);
  if (user.find(':') != std::string_view::npos) {
    Malformed(uri,
              "a password does not belong in the URI; set WHYCACHE_MYSQL_PASSWORD or use "
              "&defaults-file=PATH");
  }
  result.user = std::string(user);
  rest = rest.substr(at + 1);

  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) Malformed(uri, "no /DATABASE after the host");
  std::string_view host_port = rest.substr(0, slash);
  std::string_view database = rest.substr(slash + 1);
  if (database.empty()) Malformed(uri, "the database name is empty");
  if (database.find('/') != std::string_view::npos) Malformed(uri, "the database name has a '/'");
  result.database = std::string(database);

  MysqlServer primary = ParseServer(uri, host_port, "the primary");
  result.host = std::move(primary.host);
  result.port = primary.port;

  std::string_view replicas;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) Malformed(uri, "parameter without '=VALUE'");
    std::string_view name = param.substr(0, eq);
    std::string value(param.substr(eq + 1));
    if (value.empty()) Malformed(uri, "parameter '" + std::string(name) + "' has no value");
    if (name == "table") {
      if (!IsValidTablePrefix(value)) {
        Malformed(uri, "table prefix '" + format::EscapeBytes(value) + "' must be 1 to " +
                           std::to_string(kMaxTablePrefixBytes) +
                           " letters, digits or underscores, not starting with a digit");
      }
      result.table_prefix = value;
    } else if (name == "socket") {
      result.socket = value;
    } else if (name == "defaults-file") {
      result.defaults_file = value;
    } else if (name == "allow_unsafe_server_settings") {
      result.allow_unsafe_server_settings = ParseFlag(uri, name, value);
    } else if (name == "durable_reads") {
      result.durable_reads = ParseFlag(uri, name, value);
    } else if (name == "replicas") {
      if (!replicas.empty()) Malformed(uri, "replicas is given twice");
      replicas = param.substr(eq + 1);
    } else if (name == "machine") {
      result.machine = value;
    } else {
      Malformed(uri, "unknown parameter '" + std::string(name) + "'");
    }
  }
  // After the loop: whether a replica is the primary depends on &socket=, wherever it stands.
  if (!replicas.empty()) result.replicas = ParseReplicas(uri, replicas, result);
  return result;
}

}  // namespace whycache::mysql_log
