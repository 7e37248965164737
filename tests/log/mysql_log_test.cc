// The MySQL log against a real MariaDB: schema, round trips, paging, corrupt rows, the stored
// procedures, and what a login failure says.
#include <cppconn/exception.h>
#include <cppconn/statement.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "lib/log/mysql/schema.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "whycache/error.h"
#include "whycache/limits.h"
#include "whycache/version.h"

namespace whycache::mysql_log {
namespace {

using testing::CreateFreshLog;
using testing::FreshTablePrefix;
using ::testing::HasSubstr;
using testing::LogUri;
using testing::QueryOne;
using testing::RawConnection;
using testing::Server;

std::string Bytes(const char* s, size_t n) { return std::string(s, n); }

// Runs `sql`, which the server must refuse, and returns its message.
std::string RefusalOf(sql::Statement& statement, const std::string& sql) {
  try {
    statement.execute(sql);
  } catch (const sql::SQLException& e) {
    return e.what();
  }
  return "accepted: " + sql;
}

// Reads the whole log with pages of at most `max_updates`, checking each page's order.
std::vector<Update> ReadAll(ChangeLog& log, size_t max_updates) {
  std::vector<Update> all;
  uint64_t cursor = 0;
  for (int pages = 0; pages < 100000; ++pages) {
    std::vector<Update> page = log.ReadAfter(cursor, max_updates);
    if (page.empty()) break;
    EXPECT_LE(page.size(), max_updates);
    for (Update& u : page) {
      EXPECT_GT(u.id, cursor);
      cursor = u.id;
      all.push_back(std::move(u));
    }
  }
  return all;
}

// Runs `body` with WHYCACHE_MYSQL_PASSWORD set to `value` (unset if null), then restores it.
template <typename Body>
void WithPasswordVariable(const char* value, Body body) {
  const char* old = getenv("WHYCACHE_MYSQL_PASSWORD");
  std::string saved = old == nullptr ? "" : old;
  if (value == nullptr) {
    unsetenv("WHYCACHE_MYSQL_PASSWORD");
  } else {
    setenv("WHYCACHE_MYSQL_PASSWORD", value, 1);
  }
  body();
  if (old == nullptr) {
    unsetenv("WHYCACHE_MYSQL_PASSWORD");
  } else {
    setenv("WHYCACHE_MYSQL_PASSWORD", saved.c_str(), 1);
  }
}

Error::Code OpenErrorCode(const std::string& uri, std::string* message,
                          const MysqlLogOptions& options = {}) {
  try {
    OpenMysqlChangeLog(uri, {}, options);
  } catch (const Error& e) {
    *message = e.what();
    return e.code();
  }
  *message = "opened";
  return Error::Code::kBusy;
}

TEST(MysqlLogTest, OpeningAnUninitializedLogSaysToRunInit) {
  std::string message;
  EXPECT_EQ(OpenErrorCode(LogUri(FreshTablePrefix()), &message), Error::Code::kUnavailable);
  EXPECT_NE(message.find("whycache init"), std::string::npos) << message;
}

TEST(MysqlLogTest, InitIsIdempotentAndRecordsTheSchemaVersion) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  Mutation m = Mutation::Set("k", "v");
  uint64_t id = log->Append({&m, 1});
  LogOptions create;
  create.create_if_missing = true;
  auto again = OpenMysqlChangeLog(LogUri(prefix), create);
  EXPECT_EQ(again->HeadId(), id);
  EXPECT_EQ(ReadAll(*again, 10).size(), 1u);
  auto raw = RawConnection();
  EXPECT_EQ(QueryOne(*raw, "SELECT GROUP_CONCAT(version ORDER BY version) FROM " + prefix +
                               "_schema_version"),
            "1,2,3,4");
  EXPECT_EQ(again->Horizon(), 0u);
  // The horizon lives in the database, where compaction will move it.
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  statement->executeUpdate("UPDATE " + prefix + "_meta SET horizon = 7 WHERE id = 1");
  EXPECT_EQ(again->Horizon(), 7u);
  EXPECT_EQ(log->Horizon(), 7u);
}

// A log made by schema version 1 is told to run `init`, which replaces its stored procedures by
// the checked ones of version 2 and adds version 3's compacted-below id, set past the head: an
// older compaction may have rewritten anything before it.
TEST(MysqlLogTest, InitUpgradesAVersionOneLog) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  Mutation m = Mutation::Set("old", "v");
  const uint64_t head = log->Append({&m, 1});
  statement->execute("DELETE FROM " + prefix + "_schema_version WHERE version >= 2");
  statement->execute("DROP PROCEDURE " + prefix + "_check_mutation");
  statement->execute("ALTER TABLE " + prefix + "_meta DROP COLUMN compacted_below");
  try {
    OpenMysqlChangeLog(LogUri(prefix), {});
    ADD_FAILURE() << "a version 1 log was used without `init`";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("old schema version 1"), std::string::npos) << e.what();
  }
  LogOptions create;
  create.create_if_missing = true;
  OpenMysqlChangeLog(LogUri(prefix), create);
  EXPECT_THROW(
      statement->execute("CALL " + prefix + "_append(1, REPEAT('k', 4097), 'v', NULL, @id)"),
      sql::SQLException);
  EXPECT_EQ(log->CompactedBelow(), head + 1);
  statement->execute("CALL " + prefix + "_append(1, 'k', 'v', NULL, @id)");
  EXPECT_EQ(log->ReadAfter(0, 10).size(), 2u);
}

// A log made by schema version 3 shows a prefix delete as "op3", its procedures refuse one, and
// it is told to run `init`, which upgrades it in place: its rows stay, the view spells the op
// out, and the procedures append prefix deletes.
TEST(MysqlLogTest, InitUpgradesAVersionThreeLog) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  const std::vector<Mutation> old = {Mutation::Set("p:1", "v"), Mutation::ErasePrefix("p:")};
  const uint64_t head = log->Append(old);
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  // Back to version 3: its files once more (their statements are idempotent), and its record.
  for (const SchemaFile& file : SchemaFiles()) {
    if (SchemaFileVersion(file) > 3) continue;
    for (const std::string& sql : SchemaStatements(file.text, prefix)) statement->execute(sql);
  }
  statement->execute("DELETE FROM " + prefix + "_schema_version WHERE version > 3");
  EXPECT_EQ(QueryOne(*raw, "SELECT GROUP_CONCAT(op ORDER BY pos) FROM " + prefix + "_history"),
            "set,op3");
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(3, 'q:', NULL, NULL, @id)"),
              HasSubstr("op must be 1 (set) or 2 (delete)"));
  try {
    OpenMysqlChangeLog(LogUri(prefix), {});
    ADD_FAILURE() << "a version 3 log was used without `init`";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kUnavailable);
    EXPECT_THAT(e.what(), HasSubstr("old schema version 3: run `whycache init`"));
  }
  LogOptions create;
  create.create_if_missing = true;
  auto upgraded = OpenMysqlChangeLog(LogUri(prefix), create);
  EXPECT_EQ(QueryOne(*raw, "SELECT GROUP_CONCAT(version ORDER BY version) FROM " + prefix +
                               "_schema_version"),
            "1,2,3,4");
  statement->execute("CALL " + prefix + "_append(3, 'q:', NULL, NULL, @id)");
  const std::vector<Update> read = upgraded->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, head);
  EXPECT_EQ(read[0].mutations, old);
  EXPECT_EQ(read[1].mutations, std::vector<Mutation>{Mutation::ErasePrefix("q:")});
  EXPECT_EQ(
      QueryOne(*raw, "SELECT GROUP_CONCAT(op ORDER BY update_id, pos) FROM " + prefix + "_history"),
      "set,del-prefix,del-prefix");
}

TEST(MysqlLogTest, ConcurrentInitsCreateTheTablesOnce) {
  const std::string prefix = FreshTablePrefix();
  const std::string uri = LogUri(prefix);  // Starts the server here, not in each child.
  std::vector<whycache::testing::ChildProcess> children;
  for (int i = 0; i < 4; ++i) {
    children.emplace_back([&] {
      LogOptions create;
      create.create_if_missing = true;
      auto log = OpenMysqlChangeLog(uri, create);
      Mutation m = Mutation::Set("k", "v");
      log->Append({&m, 1});
      return 0;
    });
  }
  for (auto& child : children) {
    int status = child.Wait();
    EXPECT_TRUE(whycache::testing::ChildProcess::Succeeded(status))
        << whycache::testing::ChildProcess::Describe(status);
  }
  auto log = OpenMysqlChangeLog(uri, {});
  EXPECT_EQ(log->HeadId(), 4u);
  auto raw = RawConnection();
  EXPECT_EQ(QueryOne(*raw, "SELECT COUNT(*) FROM " + prefix + "_schema_version"),
            std::to_string(kMysqlSchemaVersion));
}

TEST(MysqlLogTest, RoundTripsBinaryBatchesInOrder) {
  auto log = CreateFreshLog();
  EXPECT_EQ(log->HeadId(), 0u);
  EXPECT_TRUE(log->ReadAfter(0, 10).empty());
  std::vector<std::vector<Mutation>> batches = {
      {Mutation::Set(Bytes("a\0b", 3), Bytes("\0\xff\n\x01", 4))},
      {Mutation::Set("", ""), Mutation::Delete("gone"), Mutation::Set("k", std::string(300, 'x'))},
      {Mutation::Delete(Bytes("\0", 1))},
      {Mutation::Set(std::string(kMaxKeyBytes, '\xee'), "max key")},
      {Mutation::Set("s:1", "x"), Mutation::ErasePrefix(Bytes("s:\0", 3)),
       Mutation::Set("s:2", "y")},
      {Mutation::ErasePrefix(std::string(kMaxKeyBytes, '\xee'))},
  };
  std::vector<uint64_t> ids;
  auto before = std::chrono::system_clock::now();
  for (const auto& batch : batches) ids.push_back(log->Append(batch));
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]);
  EXPECT_EQ(log->HeadId(), ids.back());

  std::vector<Update> read = ReadAll(*log, 2);
  ASSERT_EQ(read.size(), batches.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].id, ids[i]);
    EXPECT_EQ(read[i].mutations, batches[i]);
    int64_t before_us =
        std::chrono::duration_cast<std::chrono::microseconds>(before.time_since_epoch()).count();
    EXPECT_GE(read[i].write_time_us, before_us - 1'000'000);
  }
  EXPECT_TRUE(log->ReadAfter(ids.back(), 10).empty());
  EXPECT_EQ(log->ReadAfter(ids[1], 1).at(0).id, ids[2]);
}

TEST(MysqlLogTest, LargeValuesRoundTrip) {
  auto log = CreateFreshLog();
  std::string one_mib(size_t{1} << 20, '\0');
  std::string sixteen_mib(size_t{16} << 20, '\0');
  for (size_t i = 0; i < one_mib.size(); ++i) one_mib[i] = static_cast<char>(i * 7);
  for (size_t i = 0; i < sixteen_mib.size(); ++i) sixteen_mib[i] = static_cast<char>(i % 251);
  std::vector<Mutation> batch = {Mutation::Set("one", one_mib),
                                 Mutation::Set("sixteen", sixteen_mib),
                                 Mutation::Set("small", "s")};
  uint64_t id = log->Append(batch);
  std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_TRUE(read[0].mutations == batch);
}

// Pages of 7 rows cut batches of up to 40 mutations anywhere; no batch comes back partial.
TEST(MysqlLogTest, PagingNeverSplitsABatch) {
  MysqlLogOptions options;
  options.read_page_rows = 7;
  options.rows_per_insert = 5;
  auto log = CreateFreshLog(options);
  std::vector<std::vector<Mutation>> batches;
  for (int b = 0; b < 40; ++b) {
    std::vector<Mutation> batch;
    for (int i = 0; i <= (b * 13) % 41; ++i) {
      batch.push_back(Mutation::Set("b" + std::to_string(b) + "/" + std::to_string(i), "v"));
    }
    log->Append(batch);
    batches.push_back(std::move(batch));
  }
  for (size_t max : {size_t{1}, size_t{3}, size_t{1000}, std::numeric_limits<size_t>::max()}) {
    std::vector<Update> read = ReadAll(*log, max);
    ASSERT_EQ(read.size(), batches.size()) << max;
    for (size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i].mutations, batches[i]);
  }
}

TEST(MysqlLogTest, RefusesInvalidBatchesAndAppendsNothing) {
  auto log = CreateFreshLog();
  std::vector<std::vector<Mutation>> bad = {
      {},
      {Mutation::Set(std::string(kMaxKeyBytes + 1, 'k'), "v")},
      {Mutation::Set("k", "v"), {Mutation::Op::kDelete, "d", "a delete with a value"}},
  };
  for (const auto& batch : bad) {
    try {
      log->Append(batch);
      ADD_FAILURE() << "accepted a bad batch";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << e.what();
    }
  }
  EXPECT_EQ(log->HeadId(), 0u);
  EXPECT_TRUE(log->ReadAfter(0, 10).empty());
}

// Runs `sql` ("{log}" standing for the log table) to damage update 2 of three 3-row batches,
// then expects reading to return update 1 intact and stop at update 2 with an error that names
// it and says `what`.
void ExpectCorruptionNamed(const std::string& sql, const std::string& what) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  std::vector<Mutation> batch = {Mutation::Set("a", "1"), Mutation::Set("b", "2"),
                                 Mutation::Set("c", "3")};
  for (int i = 0; i < 3; ++i) log->Append(batch);
  std::string damage = sql;
  damage.replace(damage.find("{log}"), 5, prefix + "_log");
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  ASSERT_EQ(statement->executeUpdate(damage), 1);
  std::vector<Update> first = log->ReadAfter(0, 1);
  ASSERT_EQ(first.size(), 1u);
  for (size_t max : {size_t{1}, size_t{10}}) {
    try {
      log->ReadAfter(1, max);
      ADD_FAILURE() << "read a corrupt row: " << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption);
      EXPECT_NE(std::string(e.what()).find("update id 2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(log->ReadAfter(2, 10).size(), 1u);
}

// The SQL for a row checksum, as the stored procedure computes it, over `op` and `encoding`.
std::string SqlChecksum(const std::string& op, const std::string& encoding) {
  return "CRC32(CONCAT(CHAR(" + op + "), UNHEX(LPAD(HEX(LENGTH(k)), 8, '0')), k, CHAR(" + encoding +
         "), value))";
}

TEST(MysqlLogTest, CorruptValueNamesTheUpdateId) {
  ExpectCorruptionNamed("UPDATE {log} SET value = 'tampered' WHERE update_id = 2 AND pos = 1",
                        "checksum mismatch");
}

TEST(MysqlLogTest, UnknownOpNamesTheUpdateId) {
  // A consistent checksum, so that the op itself is what is refused.
  ExpectCorruptionNamed("UPDATE {log} SET op = 7, checksum = " + SqlChecksum("7", "encoding") +
                            " WHERE update_id = 2 AND pos = 1",
                        "unknown op 7");
}

TEST(MysqlLogTest, UnknownEncodingNamesTheUpdateId) {
  ExpectCorruptionNamed("UPDATE {log} SET encoding = 9, checksum = " + SqlChecksum("op", "9") +
                            " WHERE update_id = 2 AND pos = 1",
                        "unknown value encoding 9");
}

TEST(MysqlLogTest, UndecodableCompressedValueNamesTheUpdateId) {
  ExpectCorruptionNamed("UPDATE {log} SET encoding = 1, checksum = " + SqlChecksum("op", "1") +
                            " WHERE update_id = 2 AND pos = 1",
                        "compressed value");
}

TEST(MysqlLogTest, LargeCompressibleValuesAreStoredCompressed) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  std::vector<Mutation> batch = {Mutation::Set("big", std::string(100000, 'z')),
                                 Mutation::Set("small", std::string(100, 'z'))};
  log->Append(batch);
  auto raw = RawConnection();
  EXPECT_EQ(QueryOne(*raw, "SELECT GROUP_CONCAT(encoding ORDER BY pos) FROM " + prefix + "_log"),
            "1,0");
  EXPECT_LT(
      std::stoul(QueryOne(*raw, "SELECT LENGTH(value) FROM " + prefix + "_log WHERE pos = 0")),
      1000u);
  EXPECT_EQ(log->ReadAfter(0, 1).at(0).mutations, batch);
}

TEST(MysqlLogTest, MissingRowNamesTheUpdateId) {
  ExpectCorruptionNamed("DELETE FROM {log} WHERE update_id = 2 AND pos = 1",
                        "lacks its row at position 1");
  ExpectCorruptionNamed("DELETE FROM {log} WHERE update_id = 2 AND pos = 2", "has 2 of its 3 rows");
  ExpectCorruptionNamed("DELETE FROM {log} WHERE update_id = 2 AND pos = 0",
                        "has no row at position 0");
}

// Another language appends with plain SQL through the stored procedure; the C++ tailer reads
// it back in order with the C++ appends, and a retried token never appends twice.
TEST(MysqlLogTest, StoredProcedureAppendsAreReadBack) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  Mutation first = Mutation::Set("from c++", "1");
  uint64_t id1 = log->Append({&first, 1});

  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  statement->execute("CALL " + prefix + "_append(1, X'6B00FF', X'0076000A', NULL, @id)");
  uint64_t id2 = std::stoull(QueryOne(*raw, "SELECT @id"));
  statement->execute("CALL " + prefix +
                     "_append(2, 'old', NULL, X'0123456789ABCDEF0123456789ABCDEF', @id)");
  uint64_t id3 = std::stoull(QueryOne(*raw, "SELECT @id"));
  statement->execute("CALL " + prefix +
                     "_append(2, 'old', NULL, X'0123456789ABCDEF0123456789ABCDEF', @id)");
  EXPECT_EQ(std::stoull(QueryOne(*raw, "SELECT @id")), id3) << "a retried token appended again";
  statement->execute("CALL " + prefix + "_append(3, X'7300', NULL, NULL, @id)");
  uint64_t id_prefix = std::stoull(QueryOne(*raw, "SELECT @id"));
  statement->execute("CALL " + prefix + "_append(3, 'all:', '', NULL, @id)");
  uint64_t id_prefix_empty_value = std::stoull(QueryOne(*raw, "SELECT @id"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(3, 'k', 'v', NULL, @id)"),
              HasSubstr("_append: a prefix delete carries no value"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(3, '', NULL, NULL, @id)"),
              HasSubstr("_append: a prefix delete needs a non-empty prefix"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(3, NULL, NULL, NULL, @id)"),
              HasSubstr("_append: key must not be NULL"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(4, 'k', NULL, NULL, @id)"),
              HasSubstr("op must be 1 (set), 2 (delete) or 3 (prefix delete)"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_append(2, 'k', 'v', NULL, @id)"),
              HasSubstr("_append: a delete carries no value"));
  Mutation last = Mutation::Set("from c++ again", "4");
  uint64_t id4 = log->Append({&last, 1});
  EXPECT_LT(id1, id2);
  EXPECT_LT(id2, id3);
  EXPECT_LT(id3, id_prefix);
  EXPECT_LT(id_prefix, id_prefix_empty_value);
  EXPECT_LT(id_prefix_empty_value, id4);

  std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 6u);
  EXPECT_EQ(read[1].id, id2);
  EXPECT_EQ(read[1].mutations,
            std::vector<Mutation>{Mutation::Set(Bytes("k\0\xff", 3), Bytes("\0v\0\n", 4))});
  EXPECT_EQ(read[2].id, id3);
  EXPECT_EQ(read[2].mutations, std::vector<Mutation>{Mutation::Delete("old")});
  EXPECT_GT(read[1].write_time_us, read[0].write_time_us - 1'000'000);
  EXPECT_EQ(read[3].id, id_prefix);
  EXPECT_EQ(read[3].mutations, std::vector<Mutation>{Mutation::ErasePrefix(Bytes("s\0", 2))});
  EXPECT_EQ(read[4].mutations, std::vector<Mutation>{Mutation::ErasePrefix("all:")});
  EXPECT_EQ(read[5].id, id4);
  EXPECT_EQ(log->HeadId(), id4);
  EXPECT_EQ(
      QueryOne(*raw, "SELECT GROUP_CONCAT(op ORDER BY update_id, pos) FROM " + prefix + "_history"),
      "set,set,del,del-prefix,del-prefix,set");
}

// A batch of several mutations staged and committed with plain SQL is one update.
TEST(MysqlLogTest, StoredProcedureBatchesAreAtomicUpdates) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  EXPECT_THROW(statement->execute("CALL " + prefix + "_batch_commit(NULL, @id)"),
               sql::SQLException);
  const std::string token = "X'00000000000000000000000000000042'";
  statement->execute("CALL " + prefix + "_batch_add(1, 'a', X'00FF')");
  statement->execute("CALL " + prefix + "_batch_add(2, 'b', NULL)");
  EXPECT_THROW(statement->execute("CALL " + prefix + "_batch_add(2, 'c', 'x')"), sql::SQLException);
  statement->execute("CALL " + prefix + "_batch_add(1, '', '')");
  statement->execute("CALL " + prefix + "_batch_commit(" + token + ", @id)");
  uint64_t id = std::stoull(QueryOne(*raw, "SELECT @id"));
  // A retry with the same token after a success returns the same id and appends nothing.
  statement->execute("CALL " + prefix + "_batch_add(1, 'a', X'00FF')");
  statement->execute("CALL " + prefix + "_batch_commit(" + token + ", @id)");
  EXPECT_EQ(std::stoull(QueryOne(*raw, "SELECT @id")), id);
  statement->execute("CALL " + prefix + "_batch_add(1, 'dropped', 'x')");
  statement->execute("CALL " + prefix + "_batch_discard()");
  statement->execute("CALL " + prefix + "_batch_add(1, 'z', 'last')");
  statement->execute("CALL " + prefix + "_batch_commit(NULL, @id)");
  uint64_t id2 = std::stoull(QueryOne(*raw, "SELECT @id"));
  EXPECT_EQ(id2, id + 1);
  // A subtree replaced atomically: a prefix delete between sets under its prefix.
  statement->execute("CALL " + prefix + "_batch_add(1, 's:1', 'old')");
  statement->execute("CALL " + prefix + "_batch_add(3, 's:', NULL)");
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_batch_add(3, 's:', 'x')"),
              HasSubstr("_batch_add: a prefix delete carries no value"));
  EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_batch_add(3, '', NULL)"),
              HasSubstr("_batch_add: a prefix delete needs a non-empty prefix"));
  statement->execute("CALL " + prefix + "_batch_add(1, 's:2', 'new')");
  statement->execute("CALL " + prefix + "_batch_commit(NULL, @id)");
  uint64_t id3 = std::stoull(QueryOne(*raw, "SELECT @id"));
  EXPECT_EQ(id3, id2 + 1);

  std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_EQ(read[0].mutations,
            (std::vector<Mutation>{Mutation::Set("a", Bytes("\0\xff", 2)), Mutation::Delete("b"),
                                   Mutation::Set("", "")}));
  EXPECT_EQ(read[1].mutations, std::vector<Mutation>{Mutation::Set("z", "last")});
  EXPECT_EQ(read[2].mutations,
            (std::vector<Mutation>{Mutation::Set("s:1", "old"), Mutation::ErasePrefix("s:"),
                                   Mutation::Set("s:2", "new")}));
  EXPECT_EQ(log->HeadId(), id3);
}

// The staging table is the connection's to write: rows put there without {prefix}_batch_add
// are checked again by {prefix}_batch_commit, which refuses the batch naming the rule its first
// bad row breaks, and appends nothing.
TEST(MysqlLogTest, StoredProcedureBatchCommitRefusesBadStagedRows) {
  std::string prefix;
  auto log = CreateFreshLog({}, &prefix);
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"(9, 'k', '')", "_batch_commit: op must be 1 (set), 2 (delete) or 3 (prefix delete)"},
      {"(2, 'k', 'v')", "_batch_commit: a delete carries no value"},
      {"(3, '', '')", "_batch_commit: a prefix delete needs a non-empty prefix"},
      {"(3, 'p:', 'v')", "_batch_commit: a prefix delete carries no value"},
  };
  for (const auto& [row, rule] : bad) {
    SCOPED_TRACE(row);
    statement->execute("CALL " + prefix + "_batch_add(3, 'p:', NULL)");
    statement->execute("INSERT INTO " + prefix + "_staged (op, k, value) VALUES " + row);
    EXPECT_THAT(RefusalOf(*statement, "CALL " + prefix + "_batch_commit(NULL, @id)"),
                HasSubstr(rule));
    statement->execute("CALL " + prefix + "_batch_discard()");
  }
  EXPECT_EQ(log->HeadId(), 0u);
  statement->execute("CALL " + prefix + "_batch_add(3, 'p:', NULL)");
  statement->execute("CALL " + prefix + "_batch_commit(NULL, @id)");
  const std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].mutations, std::vector<Mutation>{Mutation::ErasePrefix("p:")});
}

TEST(MysqlLogTest, WrongPasswordNamesTheAccountNotThePassword) {
  std::string prefix;
  CreateFreshLog({}, &prefix);
  WithPasswordVariable("not-the-secret-1234", [&] {
    std::string message;
    EXPECT_EQ(OpenErrorCode(LogUri(prefix), &message), Error::Code::kUnavailable);
    const auto& s = Server().settings();
    EXPECT_NE(message.find(s.user + "@" + s.host + ":" + std::to_string(s.port)), std::string::npos)
        << message;
    EXPECT_NE(message.find("WHYCACHE_MYSQL_PASSWORD"), std::string::npos) << message;
    EXPECT_EQ(message.find("not-the-secret-1234"), std::string::npos) << message;
  });
}

TEST(MysqlLogTest, PasswordFromADefaultsFileAndNeverInDescribe) {
  std::string prefix;
  CreateFreshLog({}, &prefix);
  const auto& s = Server().settings();
  whycache::testing::TempDir dir;
  std::ofstream(dir.File("my.cnf")) << "# credentials\n[mysqld]\npassword=wrong\n[client]\n"
                                    << "password = \"" << s.password << "\"\n";
  WithPasswordVariable(nullptr, [&] {
    auto log = OpenMysqlChangeLog(LogUri(prefix) + "&defaults-file=" + dir.File("my.cnf"), {});
    Mutation m = Mutation::Set("k", "v");
    EXPECT_EQ(log->Append({&m, 1}), 1u);
    EXPECT_EQ(log->Describe().find(s.password), std::string::npos) << log->Describe();
    EXPECT_NE(log->Describe().find(s.user + "@"), std::string::npos) << log->Describe();
  });
}

TEST(MysqlLogTest, UnreachableServerIsUnavailableWithinTheBudget) {
  const auto& s = Server().settings();
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  std::string uri = "mysql://" + s.user + "@127.0.0.1:1/" + s.database;
  MysqlLogOptions options;
  options.reconnect_budget = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ(OpenErrorCode(uri, &message, options), Error::Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(message.find(s.user + "@127.0.0.1:1"), std::string::npos) << message;
  EXPECT_EQ(message.find(s.password), std::string::npos) << message;
}

}  // namespace
}  // namespace whycache::mysql_log
