// Linked into the test targets that run against a server with its query cache on (their BUILD
// rule sets MDB_EXTRA_OPTIONS): proves that it is on and that it answers the log's polls, so that
// those targets really test the log with the cache in the way. The query cache answers a
// statement from the result it gave before, until a write to one of its tables; the log must read
// the same with it as without.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "whycache/change_log.h"

namespace whycache::mysql_log::testing {
namespace {

uint64_t QueryCacheHits(sql::Connection& raw) {
  return std::stoull(QueryOne(raw,
                              "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                              "WHERE VARIABLE_NAME = 'QCACHE_HITS'"));
}

TEST(QueryCacheCheck, TheServerAnswersPollsFromItsQueryCache) {
  std::unique_ptr<sql::Connection> raw = RawConnection();
  ASSERT_EQ(QueryOne(*raw, "SELECT @@query_cache_type"), "ON")
      << "the target's server does not have its query cache on";
  std::string prefix;
  std::unique_ptr<ChangeLog> log = CreateFreshLog({}, &prefix);
  const uint64_t id = log->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  const uint64_t hits = QueryCacheHits(*raw);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(log->ReadTail(id, 10).updates.empty());
  EXPECT_GE(QueryCacheHits(*raw), hits + 9) << "polls did not come from the query cache";
  // A write invalidates what the cache holds: the next poll sees it.
  const uint64_t next = log->Append(std::vector<Mutation>{Mutation::Set("k", "w")});
  const ChangeLog::Tail tail = log->ReadTail(id, 10);
  ASSERT_EQ(tail.updates.size(), 1u);
  EXPECT_EQ(tail.updates[0].id, next);
  DropLog(prefix);
}

}  // namespace
}  // namespace whycache::mysql_log::testing
