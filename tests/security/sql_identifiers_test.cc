// The MySQL log splices one piece of caller text into SQL: the table prefix of ?table=NAME.
// Everything else travels as prepared-statement parameters. A prefix that is not a plain
// identifier is refused before any connection is made, with an error that says what is allowed.
#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/connection.h"
#include "lib/log/mysql/mysql_uri.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

// Nothing listens on port 1 of loopback: a URI that got past validation would fail with
// kUnavailable instead of kInvalidArgument.
const std::string kUriBase = "mysql://app@127.0.0.1:1/db?table=";

const std::vector<std::string>& Injections() {
  static const std::vector<std::string> kInjections = {
      "x;DROP TABLE y",
      "x; DROP TABLE y; --",
      "`x`",
      "x`; DROP TABLE y; --",
      "x'",
      "x' OR '1'='1",
      "x\"",
      "x--",
      "x/*",
      "x y",
      "x.y",
      "db.x",
      "x\\",
      "x%60",
      "x\n",
      std::string("x\0y", 3),
      "\xc3\xa9t\xc3\xa9",
      "9x",
      std::string(kMaxTablePrefixBytes + 1, 'x'),
  };
  return kInjections;
}

Error ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(Error::Code::kBusy, "");
}

void ExpectClearRejection(const Error& e, const std::string& prefix) {
  EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << prefix << ": " << e.what();
  const std::string message = e.what();
  EXPECT_NE(message.find("table prefix"), std::string::npos) << message;
  EXPECT_NE(message.find("letters, digits or underscores"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(kMaxTablePrefixBytes)), std::string::npos) << message;
}

TEST(SqlIdentifiersTest, OpenChangeLogRefusesEveryInjectionAttempt) {
  LogOptions options;
  options.reconnect_budget = std::chrono::milliseconds(10);
  for (const std::string& prefix : Injections()) {
    ExpectClearRejection(ErrorOf([&] { OpenChangeLog(kUriBase + prefix, options); }), prefix);
  }
}

TEST(SqlIdentifiersTest, CacheOpenRefusesEveryInjectionAttempt) {
  for (const std::string& prefix : Injections()) {
    CacheOptions options;
    options.state_path = "unused.state";
    options.log_uri = kUriBase + prefix;
    options.log_options.reconnect_budget = std::chrono::milliseconds(10);
    ExpectClearRejection(ErrorOf([&] { Cache::Open(options); }), prefix);
  }
}

TEST(SqlIdentifiersTest, ConnectionRefusesAPrefixThatBypassedTheParser) {
  for (const std::string& prefix : Injections()) {
    MysqlUri uri = ParseMysqlUri(kUriBase + "ok");
    uri.table_prefix = prefix;
    ExpectClearRejection(
        ErrorOf([&] { MysqlConnection connection(uri, std::chrono::milliseconds(10)); }), prefix);
  }
}

TEST(SqlIdentifiersTest, TheLongestPlainIdentifierIsAccepted) {
  const std::string longest = "_" + std::string(kMaxTablePrefixBytes - 2, 'a') + "9";
  EXPECT_EQ(ParseMysqlUri(kUriBase + longest).table_prefix, longest);
  MysqlConnection connection(ParseMysqlUri(kUriBase + longest), std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace whycache::mysql_log
