// Parsing of mysql:// log URIs and splitting of the schema files; needs no server.
#include "lib/log/mysql/mysql_uri.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/schema.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::mysql_log {
namespace {

std::string ParseError(const std::string& uri) {
  try {
    ParseMysqlUri(uri);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << uri;
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << uri;
  return "";
}

TEST(MysqlUriTest, ParsesEveryPart) {
  MysqlUri uri = ParseMysqlUri(
      "mysql://app@db.example:3307/prod?table=flags&socket=/run/m.sock"
      "&defaults-file=/etc/app.cnf");
  EXPECT_EQ(uri.user, "app");
  EXPECT_EQ(uri.host, "db.example");
  EXPECT_EQ(uri.port, 3307);
  EXPECT_EQ(uri.database, "prod");
  EXPECT_EQ(uri.table_prefix, "flags");
  EXPECT_EQ(uri.socket, "/run/m.sock");
  EXPECT_EQ(uri.defaults_file, "/etc/app.cnf");
  EXPECT_EQ(uri.Endpoint(), "app@db.example:3307");
}

TEST(MysqlUriTest, UnsafeServerSettingsAreAcceptedOnlyWhenAskedFor) {
  EXPECT_FALSE(ParseMysqlUri("mysql://app@h/db").allow_unsafe_server_settings);
  EXPECT_FALSE(ParseMysqlUri("mysql://app@h/db?allow_unsafe_server_settings=0")
                   .allow_unsafe_server_settings);
  MysqlUri uri = ParseMysqlUri("mysql://app@h/db?allow_unsafe_server_settings=1");
  EXPECT_TRUE(uri.allow_unsafe_server_settings);
  EXPECT_EQ(uri.Describe(), "mysql://app@h:3306/db?table=whycache&allow_unsafe_server_settings=1");
  EXPECT_NE(ParseError("mysql://app@h/db?allow_unsafe_server_settings=yes").find("0 or 1"),
            std::string::npos);
}

TEST(MysqlUriTest, DurableReadsAreLeftToTheOptionsUnlessNamed) {
  EXPECT_FALSE(ParseMysqlUri("mysql://app@h/db").durable_reads.has_value());
  EXPECT_EQ(ParseMysqlUri("mysql://app@h/db?durable_reads=0").durable_reads, false);
  MysqlUri uri = ParseMysqlUri("mysql://app@h/db?durable_reads=1");
  EXPECT_EQ(uri.durable_reads, true);
  EXPECT_EQ(uri.Describe(), "mysql://app@h:3306/db?table=whycache&durable_reads=1");
  EXPECT_EQ(ParseMysqlUri("mysql://app@h/db?durable_reads=0").Describe(),
            "mysql://app@h:3306/db?table=whycache&durable_reads=0");
  EXPECT_NE(ParseError("mysql://app@h/db?durable_reads=2").find("durable_reads must be 0 or 1"),
            std::string::npos);
}

TEST(MysqlUriTest, NamesReplicasForReads) {
  MysqlUri uri = ParseMysqlUri("mysql://app@db1:3307/flags?replicas=db2:3306,db3,10.0.0.4:3310");
  ASSERT_EQ(uri.replicas.size(), 3u);
  EXPECT_EQ(uri.replicas[0], (MysqlServer{"db2", 3306}));
  EXPECT_EQ(uri.replicas[1], (MysqlServer{"db3", 3306}));
  EXPECT_EQ(uri.replicas[2], (MysqlServer{"10.0.0.4", 3310}));
  EXPECT_EQ(uri.Describe(),
            "mysql://app@db1:3307/flags?table=whycache&replicas=db2:3306,db3:3306,10.0.0.4:3310");
  EXPECT_EQ(ParseMysqlUri(uri.Describe()).Describe(), uri.Describe());

  MysqlUri replica = uri.ReplicaUri(2);
  EXPECT_EQ(replica.Endpoint(), "app@10.0.0.4:3310");
  EXPECT_EQ(replica.database, "flags");
  EXPECT_TRUE(replica.replicas.empty());
  // A primary reached through its socket is not its TCP address.
  MysqlUri local = ParseMysqlUri("mysql://app@localhost/db?socket=/run/m.sock&replicas=localhost");
  EXPECT_EQ(local.ReplicaUri(0).socket, "");
  EXPECT_TRUE(ParseMysqlUri("mysql://app@h/db").replicas.empty());

  MysqlUri named = ParseMysqlUri("mysql://app@db1/flags?replicas=db2&machine=web-7");
  EXPECT_EQ(named.machine, "web-7");
  EXPECT_EQ(ParseMysqlUri(named.Describe()).machine, "web-7");
}

TEST(MysqlUriTest, RejectsMalformedReplicaListsNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"mysql://u@h/db?replicas=", "has no value"},
      {"mysql://u@h/db?replicas=r1,", "empty entry"},
      {"mysql://u@h/db?replicas=,r1", "empty entry"},
      {"mysql://u@h/db?replicas=r1,,r2", "empty entry"},
      {"mysql://u@h/db?replicas=:3306", "replica ':3306' has an empty host"},
      {"mysql://u@h/db?replicas=r1:0", "port of replica 'r1:0'"},
      {"mysql://u@h/db?replicas=r1:65536", "port of replica 'r1:65536'"},
      {"mysql://u@h/db?replicas=r1:x", "port of replica 'r1:x'"},
      {"mysql://u@h/db?replicas=r1:", "port of replica 'r1:'"},
      {"mysql://u@h/db?replicas=r1,r1:3306", "replica 'r1:3306' is listed twice"},
      {"mysql://u@h:3307/db?replicas=h:3307", "replica 'h:3307' is the primary"},
      {"mysql://u@h/db?replicas=r1&replicas=r2", "replicas is given twice"},
  };
  for (const auto& [bad, why] : cases) {
    std::string message = ParseError(bad);
    EXPECT_NE(message.find(bad), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << message;
  }
}

TEST(MysqlUriTest, DefaultsPortAndTablePrefix) {
  MysqlUri uri = ParseMysqlUri("mysql://app@localhost/db");
  EXPECT_EQ(uri.port, 3306);
  EXPECT_EQ(uri.table_prefix, "whycache");
  EXPECT_EQ(uri.Describe(), "mysql://app@localhost:3306/db?table=whycache");
}

TEST(MysqlUriTest, RejectsMalformedUrisNamingThem) {
  for (const char* bad :
       {"file:/tmp/x", "mysql://", "mysql://host:1/db", "mysql://u@host:1", "mysql://u@host:1/",
        "mysql://u@:1/db", "mysql://u@h:0/db", "mysql://u@h:99999/db", "mysql://u@h:12x/db",
        "mysql://u@h/db?x=1", "mysql://u@h/db?table", "mysql://u@h/db?table=", "mysql://u@h/a/b"}) {
    std::string message = ParseError(bad);
    EXPECT_NE(message.find(bad), std::string::npos) << message;
  }
}

TEST(MysqlUriTest, TablePrefixMustBeAPlainIdentifier) {
  EXPECT_TRUE(IsValidTablePrefix("whycache"));
  EXPECT_TRUE(IsValidTablePrefix("_a9_Z"));
  EXPECT_TRUE(IsValidTablePrefix(std::string(kMaxTablePrefixBytes, 'a')));
  const std::vector<std::string> bad_prefixes = {"",
                                                 "9lives",
                                                 "a-b",
                                                 "a b",
                                                 "a;DROP TABLE x",
                                                 "a`b",
                                                 "a.b",
                                                 std::string(kMaxTablePrefixBytes + 1, 'a'),
                                                 std::string("a\0b", 3)};
  for (const std::string& bad : bad_prefixes) {
    EXPECT_FALSE(IsValidTablePrefix(bad)) << bad;
  }
  ParseError("mysql://u@h/db?table=x;DROP");
}

TEST(MysqlUriTest, NeverRepeatsAPasswordGivenInTheUri) {
  std::string message = ParseError("mysql://u:hunter2@h:1/db");
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(message.find("WHYCACHE_MYSQL_PASSWORD"), std::string::npos) << message;
}

TEST(SchemaTest, FilesAreVersionedInOrderUpToTheCurrentVersion) {
  uint32_t expected = 1;
  for (const SchemaFile& file : SchemaFiles()) {
    EXPECT_EQ(SchemaFileVersion(file), expected) << file.name;
    ++expected;
  }
  EXPECT_EQ(expected - 1, kMysqlSchemaVersion);
}

TEST(SchemaTest, SplitsLikeTheMysqlClient) {
  auto statements = SchemaStatements(
      "-- a comment\n"
      "CREATE TABLE {prefix}_a (x INT);\n"
      "DELIMITER //\n"
      "\n"
      "-- another\n"
      "CREATE PROCEDURE {prefix}_p()\n"
      "BEGIN\n"
      "  SELECT 1;\n"
      "END\n"
      "//\n",
      "t1");
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0], "CREATE TABLE t1_a (x INT)");
  EXPECT_EQ(statements[1], "CREATE PROCEDURE t1_p()\nBEGIN\n  SELECT 1;\nEND\n");
}

}  // namespace
}  // namespace whycache::mysql_log
