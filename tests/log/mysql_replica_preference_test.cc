// The order in which machines try the replicas of a MySQL log; needs no server.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_uri.h"
#include "lib/log/mysql/read_servers.h"

namespace whycache::mysql_log {
namespace {

constexpr int kMachines = 3000;

std::string Machine(int i) { return "web-" + std::to_string(i) + ".example"; }

TEST(ReplicaPreferenceTest, IsAnOrderOfAllReplicasStablePerMachine) {
  const MysqlUri uri = ParseMysqlUri("mysql://app@db1/flags?replicas=db2,db3,db4");
  for (int i = 0; i < 100; ++i) {
    std::vector<size_t> order = ReplicaPreference(uri, Machine(i));
    EXPECT_EQ(order, ReplicaPreference(uri, Machine(i)));
    std::vector<size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<size_t>{0, 1, 2}));
  }
  EXPECT_TRUE(ReplicaPreference(ParseMysqlUri("mysql://app@db1/flags"), "m").empty());
}

// Expected 1000 machines per replica; the binomial standard deviation is about 26.
TEST(ReplicaPreferenceTest, SpreadsAFleetEvenly) {
  const MysqlUri uri = ParseMysqlUri("mysql://app@db1/flags?replicas=db2:3306,db3:3306,db4:3306");
  std::map<size_t, int> first;
  for (int i = 0; i < kMachines; ++i) ++first[ReplicaPreference(uri, Machine(i))[0]];
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_GT(first[r], 850) << "replica " << r;
    EXPECT_LT(first[r], 1150) << "replica " << r;
  }
}

// Listing the replicas in another order, or removing one, moves only the machines that
// preferred the removed one.
TEST(ReplicaPreferenceTest, ChangingTheListMovesOnlyTheMachinesItMust) {
  const MysqlUri three = ParseMysqlUri("mysql://app@db1/flags?replicas=db2,db3,db4");
  const MysqlUri reordered = ParseMysqlUri("mysql://app@db1/flags?replicas=db4,db2,db3");
  const MysqlUri two = ParseMysqlUri("mysql://app@db1/flags?replicas=db2,db4");
  auto first = [](const MysqlUri& uri, int i) {
    return uri.replicas[ReplicaPreference(uri, Machine(i))[0]].Address();
  };
  for (int i = 0; i < kMachines; ++i) {
    EXPECT_EQ(first(three, i), first(reordered, i));
    if (first(three, i) != "db3:3306") {
      EXPECT_EQ(first(three, i), first(two, i));
    }
  }
}

// The URI's machine= names the machine for its replica choice, over the options and the host.
TEST(ReplicaPreferenceTest, TheUriCanNameTheMachine) {
  MysqlLogOptions options;
  options.machine_name = "from-options";
  EXPECT_EQ(MachineName(ParseMysqlUri("mysql://app@db1/flags?replicas=db2&machine=web-7"), options),
            "web-7");
  const MysqlUri unnamed = ParseMysqlUri("mysql://app@db1/flags?replicas=db2");
  EXPECT_EQ(MachineName(unnamed, options), "from-options");
  EXPECT_FALSE(MachineName(unnamed, {}).empty());
}

}  // namespace
}  // namespace whycache::mysql_log
