// Which reads of the MySQL log write: machines read with a SELECT-only account from a primary with
// a binary log and from its replicas, while on a server without one a read makes what it returns
// durable with a write (MysqlLogOptions::durable_reads). The oracle is the test's own record of
// the batches it appended.
#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "lib/log/mysql/mysql_uri.h"
#include "lib/log/mysql/read_servers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "tests/support/test_mariadb_replication.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {
namespace {

using testing::MariaDbSettings;
using testing::TestMariaDb;
using testing::TestReplicaSet;

constexpr char kPrefix[] = "fleet";

int64_t QueryInt(sql::Connection& connection, const std::string& query) {
  std::unique_ptr<sql::Statement> statement(connection.createStatement());
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(query));
  if (!rows->next()) throw std::runtime_error("no row from " + query);
  return rows->getInt64(1);
}

class MysqlReplicaTest : public ::testing::Test {
 protected:
  // A primary with a binary log and `replicas` replicas of it, each with a SELECT-only reader.
  void StartSet(int replicas) {
    set_ = TestReplicaSet::Start(replicas, {});
    primary_ = &set_->primary_settings();
    reader_ = set_->AsReader(*primary_);
    CreateLog();
  }

  // A server without a binary log, and a SELECT-only reader made on it here.
  void StartServerWithoutBinaryLog() {
    plain_ = TestMariaDb::StartPrivate("");
    primary_ = &plain_->settings();
    reader_ = *primary_;
    reader_.user = "select_only";
    reader_.password = "select-only-pw";
    auto root = testing::ConnectAsRoot(*primary_);
    std::unique_ptr<sql::Statement> statement(root->createStatement());
    for (const char* host : {"127.0.0.1", "localhost"}) {
      const std::string account = "'select_only'@'" + std::string(host) + "'";
      statement->execute("CREATE USER " + account + " IDENTIFIED BY '" + reader_.password + "'");
      statement->execute("GRANT SELECT ON `" + primary_->database + "`.* TO " + account);
    }
    CreateLog();
  }

  void CreateLog() {
    // The writer logs in as the test user, whose password the fixture puts in the environment.
    LogOptions create;
    create.create_if_missing = true;
    writer_ = OpenChangeLog(primary_->Uri(kPrefix), create);
    // Every replica has the tables before a test stops one.
    if (set_ != nullptr) set_->WaitForReplicas();
    // Readers take the reader's password from an option file, as a deployment would.
    defaults_file_ = dir_.path() + "/reader.cnf";
    std::ofstream(defaults_file_) << "[client]\npassword=" << reader_.password << "\n";
  }

  // The URI a machine reading as the SELECT-only user uses for `server`, plus `extra`.
  std::string ReaderUri(const MariaDbSettings& server, const std::string& extra = "") const {
    MariaDbSettings as_reader = server;
    as_reader.user = reader_.user;
    return as_reader.Uri(kPrefix) + "&defaults-file=" + defaults_file_ + extra;
  }

  // Appends `count` one-mutation batches and records them.
  void Append(int count) {
    for (int i = 0; i < count; ++i) {
      const std::string key = "k" + std::to_string(appended_.size());
      const uint64_t id = writer_->Append(std::vector<Mutation>{Mutation::Set(key, "v")});
      ASSERT_TRUE(appended_.emplace(id, key).second) << "id " << id << " returned twice";
    }
  }

  // Reads `log` from `after_id` to its end and checks each batch against the record.
  uint64_t ReadToEnd(ChangeLog& log, uint64_t after_id) {
    for (int round = 0; round < 1000; ++round) {
      std::vector<Update> updates = log.ReadAfter(after_id, 7);
      if (updates.empty()) return after_id;
      for (const Update& update : updates) {
        EXPECT_GT(update.id, after_id) << "went back or repeated";
        auto it = appended_.upper_bound(after_id);
        EXPECT_TRUE(it != appended_.end() && it->first == update.id)
            << "update " << update.id << " does not follow " << after_id << " in the record";
        if (it != appended_.end()) {
          EXPECT_EQ(update.mutations, std::vector<Mutation>{Mutation::Set(it->second, "v")});
        }
        after_id = update.id;
      }
    }
    ADD_FAILURE() << "the log did not end";
    return after_id;
  }

  // The URI of a machine reading as the SELECT-only user, with every replica of the set.
  std::string FleetUri() const {
    std::string uri = ReaderUri(set_->primary_settings(), "&replicas=");
    for (int i = 0; i < set_->replica_count(); ++i) {
      const MariaDbSettings& replica = set_->replica_settings(i);
      uri += (i == 0 ? "" : ",") + replica.host + ":" + std::to_string(replica.port);
    }
    return uri;
  }

  // A machine name whose preferred replica is `replica`.
  std::string MachinePreferring(int replica) const {
    const mysql_log::MysqlUri uri = mysql_log::ParseMysqlUri(FleetUri());
    for (int i = 0; i < 1000; ++i) {
      const std::string name = "machine-" + std::to_string(i);
      if (mysql_log::ReplicaPreference(uri, name)[0] == static_cast<size_t>(replica)) return name;
    }
    throw std::runtime_error("no machine name prefers replica " + std::to_string(replica));
  }

  // Options that make failover quick for a test: reconnect budgets of a fraction of a second
  // for a replica, a lag bound of `max_lag`.
  static mysql_log::MysqlLogOptions FleetOptions(const std::string& machine,
                                                 std::chrono::milliseconds max_lag) {
    mysql_log::MysqlLogOptions options;
    options.machine_name = machine;
    options.reconnect_budget = std::chrono::seconds(10);
    options.replica_reconnect_budget = std::chrono::milliseconds(300);
    options.replica_retry_interval = std::chrono::milliseconds(300);
    options.lag_sample_interval = std::chrono::milliseconds(100);
    options.max_replica_lag = max_lag;
    return options;
  }

  std::unique_ptr<ChangeLog> OpenMachine(const mysql_log::MysqlLogOptions& options) {
    return mysql_log::OpenMysqlChangeLog(FleetUri(), {}, options);
  }

  // Whether `log` reads from `server`.
  bool ReadsFrom(ChangeLog& log, const MariaDbSettings& server) const {
    const std::string endpoint =
        set_->AsReader(server).user + "@" + server.host + ":" + std::to_string(server.port);
    return log.CurrentReadServer().server == endpoint;
  }

  static std::string Status(ChangeLog& log) {
    const ChangeLog::ReadServer status = log.CurrentReadServer();
    return status.server + ", last failover: " + status.last_failover;
  }

  // Appends `count` batches, waits for the replicas, and reads them with `machine`.
  void AppendAndRead(ChangeLog& machine, int count, uint64_t* applied) {
    Append(count);
    set_->WaitForReplicas();
    *applied = ReadToEnd(machine, *applied);
    EXPECT_EQ(*applied, appended_.rbegin()->first);
  }

  // Reads on until `log` reads from `server`, for at most a minute; false if it never does.
  bool ReadUntilOn(ChangeLog& log, const MariaDbSettings& server, uint64_t* applied) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (;;) {
      *applied = ReadToEnd(log, *applied);
      if (ReadsFrom(log, server)) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Connections of the reader user on `server`, counted by the server itself.
  int64_t ReaderConnections(const MariaDbSettings& server) {
    auto root = testing::ConnectAsRoot(server);
    return QueryInt(*root, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '" +
                               set_->AsReader(server).user + "'");
  }

  // The output of `whycache --log LOG --state STATE stats --json` (the binary the build gives the
  // test in WHYCACHE_BIN).
  static std::string StatsJson(const std::string& log, const std::string& state) {
    const char* binary = std::getenv("WHYCACHE_BIN");
    if (binary == nullptr) throw std::runtime_error("WHYCACHE_BIN is not set");
    const std::string command =
        std::string(binary) + " --log '" + log + "' --state '" + state + "' stats --json 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
    std::string output;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    EXPECT_EQ(::pclose(pipe), 0) << output;
    return output;
  }

  int64_t ReaderSyncs() {
    auto root = testing::ConnectAsRoot(*primary_);
    return QueryInt(*root, "SELECT syncs FROM " + primary_->database + "." + kPrefix +
                               "_reader_sync WHERE id = 1");
  }

  testing::TempDir dir_;
  std::string defaults_file_;
  std::unique_ptr<TestReplicaSet> set_;
  std::unique_ptr<TestMariaDb> plain_;
  const MariaDbSettings* primary_ = nullptr;  // The server writers write to.
  MariaDbSettings reader_;                    // Its SELECT-only account.
  std::unique_ptr<ChangeLog> writer_;
  std::map<uint64_t, std::string> appended_;  // update id -> key, as Append returned them
};

// A machine needs SELECT and nothing else, on the primary and on a replica: every read would
// fail with an access error if it wrote.
TEST_F(MysqlReplicaTest, ASelectOnlyReaderTailsThePrimaryAndAReplica) {
  StartSet(1);
  Append(20);
  set_->WaitForReplicas();
  const int64_t syncs = ReaderSyncs();
  for (const MariaDbSettings* server : {&set_->primary_settings(), &set_->replica_settings(0)}) {
    SCOPED_TRACE(server->Uri());
    std::unique_ptr<ChangeLog> reader = OpenChangeLog(ReaderUri(*server));
    EXPECT_EQ(ReadToEnd(*reader, 0), appended_.rbegin()->first);
    EXPECT_EQ(reader->HeadId(), appended_.rbegin()->first);
    EXPECT_EQ(reader->Horizon(), writer_->Horizon());
    EXPECT_EQ(reader->CompactedBelow(), writer_->CompactedBelow());
    EXPECT_EQ(reader->DatasetId(), writer_->DatasetId());
  }
  const uint64_t head = appended_.rbegin()->first;
  Append(5);
  set_->WaitForReplicas();
  std::unique_ptr<ChangeLog> replica_reader = OpenChangeLog(ReaderUri(set_->replica_settings(0)));
  EXPECT_EQ(ReadToEnd(*replica_reader, head), appended_.rbegin()->first);
  EXPECT_EQ(ReaderSyncs(), syncs) << "a read wrote to the primary";
}

// With the binary log on, a read needs no write of its own; asked to, it still makes one.
TEST_F(MysqlReplicaTest, OnAPrimaryWithABinaryLogReadsWriteOnlyWithDurableReads) {
  StartSet(0);
  Append(10);
  const int64_t syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> reader = OpenChangeLog(primary_->Uri(kPrefix));
  EXPECT_EQ(ReadToEnd(*reader, 0), appended_.rbegin()->first);
  EXPECT_EQ(ReaderSyncs(), syncs);
  std::unique_ptr<ChangeLog> durable = OpenChangeLog(primary_->Uri(kPrefix) + "&durable_reads=1");
  EXPECT_EQ(ReadToEnd(*durable, 0), appended_.rbegin()->first);
  EXPECT_GT(ReaderSyncs(), syncs);
}

// Without a binary log a commit can be seen before it is on disk: a read that returns new batches
// commits a write first, and a reader that may not write is told what to do, losing nothing.
TEST_F(MysqlReplicaTest, WithoutABinaryLogReadsMakeWhatTheyReturnDurable) {
  StartServerWithoutBinaryLog();
  Append(10);
  const uint64_t head = appended_.rbegin()->first;
  int64_t syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> writer_account = OpenChangeLog(primary_->Uri(kPrefix));
  EXPECT_EQ(ReadToEnd(*writer_account, 0), head);
  EXPECT_GT(ReaderSyncs(), syncs);

  std::unique_ptr<ChangeLog> select_only = OpenChangeLog(ReaderUri(*primary_));
  try {
    select_only->ReadAfter(0, 100);
    ADD_FAILURE() << "a SELECT-only reader returned batches it could not make durable";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kUnavailable);
    const std::string message = e.what();
    EXPECT_NE(message.find("takes writes without a binary log"), std::string::npos) << message;
    EXPECT_NE(message.find("grant it UPDATE on " + std::string(kPrefix) + "_reader_sync"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("durable_reads=0"), std::string::npos) << message;
  }
  // Nothing new: nothing to make durable, so an up-to-date reader polls on.
  EXPECT_TRUE(select_only->ReadAfter(head, 100).empty());

  syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> risk_accepted =
      OpenChangeLog(ReaderUri(*primary_, "&durable_reads=0"));
  EXPECT_EQ(ReadToEnd(*risk_accepted, 0), head);
  EXPECT_EQ(ReaderSyncs(), syncs);
}

// Each machine reads from the replica it prefers, so a fleet spreads over the replicas; the
// replicas' own connection lists are the oracle.
TEST_F(MysqlReplicaTest, ReadsSpreadOverTheReplicas) {
  StartSet(2);
  Append(5);
  set_->WaitForReplicas();
  const mysql_log::MysqlUri uri = mysql_log::ParseMysqlUri(FleetUri());
  std::vector<std::unique_ptr<ChangeLog>> machines;
  int64_t preferring[2] = {0, 0};
  for (int i = 0; i < 16; ++i) {
    const std::string name = "host-" + std::to_string(i);
    const size_t preferred = mysql_log::ReplicaPreference(uri, name)[0];
    ++preferring[preferred];
    machines.push_back(OpenMachine(FleetOptions(name, std::chrono::hours(1))));
    EXPECT_EQ(ReadToEnd(*machines.back(), 0), appended_.rbegin()->first);
    EXPECT_EQ(machines.back()->HeadId(), appended_.rbegin()->first);
    EXPECT_TRUE(ReadsFrom(*machines.back(), set_->replica_settings(static_cast<int>(preferred))))
        << Status(*machines.back());
  }
  EXPECT_GT(preferring[0], 0);
  EXPECT_GT(preferring[1], 0);
  EXPECT_EQ(ReaderConnections(set_->replica_settings(0)), preferring[0]);
  EXPECT_EQ(ReaderConnections(set_->replica_settings(1)), preferring[1]);
  // On the primary, one each for the lag samples: none kept idle for writes.
  EXPECT_EQ(ReaderConnections(set_->primary_settings()), 16);
}

// A killed replica: reads go on from the other one and come back once it serves again.
TEST_F(MysqlReplicaTest, AKilledReplicaMakesReadsFailOverAndComeBack) {
  StartSet(2);
  auto machine = OpenMachine(FleetOptions(MachinePreferring(0), std::chrono::hours(1)));
  uint64_t applied = 0;
  AppendAndRead(*machine, 5, &applied);
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(0)));

  set_->KillReplica(0);
  AppendAndRead(*machine, 5, &applied);
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(1))) << Status(*machine);

  set_->StartReplica(0);
  Append(3);
  set_->WaitForReplicas();
  EXPECT_TRUE(ReadUntilOn(*machine, set_->replica_settings(0), &applied)) << Status(*machine);
  AppendAndRead(*machine, 2, &applied);
}

// A replica whose replication stopped falls behind; once it is behind by more than the bound,
// reads move to the other replica, and they come back once it has caught up.
TEST_F(MysqlReplicaTest, ALaggingReplicaIsSkippedOnceItIsBehindByTheBound) {
  StartSet(2);
  auto machine = OpenMachine(FleetOptions(MachinePreferring(0), std::chrono::milliseconds(500)));
  uint64_t applied = 0;
  AppendAndRead(*machine, 3, &applied);
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(0)));

  set_->StopReplication(0);
  Append(1);
  set_->WaitForReplicas();
  EXPECT_TRUE(ReadUntilOn(*machine, set_->replica_settings(1), &applied)) << Status(*machine);
  EXPECT_EQ(applied, appended_.rbegin()->first);

  set_->StartReplication(0);
  set_->WaitForReplicas();
  EXPECT_TRUE(ReadUntilOn(*machine, set_->replica_settings(0), &applied)) << Status(*machine);
  AppendAndRead(*machine, 2, &applied);
}

// Reads move from a replica ahead to one behind: nothing is returned until that one catches
// up, the head id does not go back, and no batch comes twice.
TEST_F(MysqlReplicaTest, FailingOverToAReplicaBehindNeverGoesBack) {
  StartSet(2);
  auto machine = OpenMachine(FleetOptions(MachinePreferring(0), std::chrono::hours(1)));
  set_->StopReplication(1);
  Append(10);
  set_->WaitForReplicas();
  uint64_t applied = ReadToEnd(*machine, 0);
  ASSERT_EQ(applied, appended_.rbegin()->first);
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(0)));
  auto behind = testing::ConnectAsRoot(set_->replica_settings(1));
  const int64_t behind_head =
      QueryInt(*behind, "SELECT head_id FROM " + set_->replica_settings(1).database + "." +
                            kPrefix + "_meta WHERE id = 1");
  ASSERT_LT(behind_head, static_cast<int64_t>(applied));

  set_->KillReplica(0);
  EXPECT_TRUE(machine->ReadAfter(applied, 100).empty());
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(1))) << Status(*machine);
  EXPECT_EQ(machine->HeadId(), applied);
  EXPECT_EQ(machine->Horizon(), writer_->Horizon());
  EXPECT_GE(machine->CompactedBelow(), writer_->CompactedBelow());
  // The machine measures how far behind it reads, at its next lag sample.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (machine->CurrentReadServer().updates_behind < 0 &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(machine->ReadAfter(applied, 100).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(machine->CurrentReadServer().updates_behind,
            static_cast<int64_t>(applied) - behind_head);
  EXPECT_FALSE(machine->CurrentReadServer().on_primary);

  set_->StartReplication(1);
  Append(5);
  set_->WaitForReplicas();
  EXPECT_EQ(ReadToEnd(*machine, applied), appended_.rbegin()->first);
  EXPECT_TRUE(ReadsFrom(*machine, set_->replica_settings(1)));
}

// A new machine starts while the primary is down: it opens the log on its replica (schema and
// dataset id), fills its state from there, and connects to the primary only for lag samples.
TEST_F(MysqlReplicaTest, AMachineStartsWhileThePrimaryIsDown) {
  StartSet(2);
  Append(12);
  set_->WaitForReplicas();
  set_->primary().Kill();
  CacheOptions options;
  options.state_path = dir_.path() + "/state";
  options.log_uri = FleetUri() + "&machine=" + MachinePreferring(1);
  std::unique_ptr<Cache> cache = Cache::Open(options);
  EXPECT_EQ(cache->UpdateNow(), appended_.rbegin()->first);
  for (const auto& [id, key] : appended_) EXPECT_EQ(cache->Get(key), "v") << key;
  const MariaDbSettings& replica = set_->replica_settings(1);
  EXPECT_EQ(cache->Stats().read_server.server,
            reader_.user + "@" + replica.host + ":" + std::to_string(replica.port));
  set_->primary().Start();
}

// What a machine shows about where it reads: the library's stats after a poll, and `whycache
// stats`, which asks the log itself; the lag in update ids against the replica's own head, and
// the reason it cannot be measured while the primary is down.
TEST_F(MysqlReplicaTest, StatsShowTheReadServerAndItsLag) {
  StartSet(2);
  Append(5);
  set_->WaitForReplicas();
  const MariaDbSettings& preferred = set_->replica_settings(0);
  const std::string endpoint =
      reader_.user + "@" + preferred.host + ":" + std::to_string(preferred.port);
  const std::string uri = FleetUri() + "&machine=" + MachinePreferring(0);
  CacheOptions options;
  options.state_path = dir_.path() + "/state";
  options.log_uri = uri;
  std::unique_ptr<Cache> cache = Cache::Open(options);
  EXPECT_TRUE(cache->Stats().read_server.server.empty()) << "no poll yet";
  EXPECT_EQ(cache->UpdateNow(), appended_.rbegin()->first);
  ChangeLog::ReadServer reads = cache->Stats().read_server;
  EXPECT_EQ(reads.server, endpoint);
  EXPECT_FALSE(reads.on_primary);
  EXPECT_EQ(reads.updates_behind, 0) << reads.lag_unmeasured;

  std::string json = StatsJson(uri, options.state_path);
  EXPECT_NE(json.find("\"read_server\":\"" + endpoint + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"read_server_role\":\"replica\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"read_server_updates_behind\":0,"), std::string::npos) << json;

  // Within the lag bound a lagging replica keeps serving, and shows how far behind it is.
  set_->StopReplication(0);
  Append(3);
  json = StatsJson(uri, options.state_path);
  EXPECT_NE(json.find("\"read_server\":\"" + endpoint + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"read_server_updates_behind\":3,"), std::string::npos) << json;
  set_->StartReplication(0);
  set_->WaitForReplicas();

  // The primary down: the machine keeps reading its replica and says why the lag is unknown.
  set_->primary().Kill();
  const std::string primary_address = primary_->host + ":" + std::to_string(primary_->port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    EXPECT_EQ(cache->UpdateNow(), appended_.rbegin()->first);
    reads = cache->Stats().read_server;
    if (!reads.lag_unmeasured.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(reads.server, endpoint);
  EXPECT_EQ(reads.updates_behind, -1);
  EXPECT_NE(reads.lag_unmeasured.find("the primary cannot be read"), std::string::npos)
      << reads.lag_unmeasured;
  EXPECT_NE(reads.lag_unmeasured.find(primary_address), std::string::npos) << reads.lag_unmeasured;
  set_->primary().Start();
}

}  // namespace
}  // namespace whycache
