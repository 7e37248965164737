#include "tests/security/write_limits.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::testing {

void WriteLimitsTest::SetUp() {
  fresh_ = GetParam().create();
  CacheOptions options;
  options.state_path = dir_.File("data.state");
  options.log_uri = fresh_->uri();
  cache_ = Cache::Open(options);
  log_ = fresh_->Open({});
}

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// One way of writing a batch.
struct WritePath {
  const char* name;
  std::function<uint64_t(Cache&, ChangeLog&, const std::vector<Mutation>&)> write;
};

Pairs SetsOf(const std::vector<Mutation>& batch) {
  Pairs pairs;
  for (const Mutation& m : batch) pairs.emplace_back(m.key, m.value);
  return pairs;
}

std::vector<std::string> KeysOf(const std::vector<Mutation>& batch) {
  std::vector<std::string> keys;
  for (const Mutation& m : batch) keys.push_back(m.key);
  return keys;
}

// Every path that can write `batch`: the single-key calls only for one mutation, the set and
// delete calls only for batches of sets or of deletes.
std::vector<WritePath> PathsFor(const std::vector<Mutation>& batch) {
  bool all_sets = true;
  bool all_deletes = true;
  for (const Mutation& m : batch) {
    all_sets = all_sets && m.op == Mutation::Op::kSet;
    all_deletes = all_deletes && m.op == Mutation::Op::kDelete;
  }
  std::vector<WritePath> paths = {
      {"ChangeLog::Append", [](Cache&, ChangeLog& log, const auto& b) { return log.Append(b); }},
      {"Cache::Write", [](Cache& cache, ChangeLog&, const auto& b) { return cache.Write(b); }},
  };
  if (all_sets) {
    paths.push_back({"Cache::SetMulti", [](Cache& cache, ChangeLog&, const auto& b) {
                       return cache.SetMulti(SetsOf(b));
                     }});
    if (batch.size() == 1) {
      paths.push_back({"Cache::Set", [](Cache& cache, ChangeLog&, const auto& b) {
                         return cache.Set(b[0].key, b[0].value);
                       }});
    }
  }
  if (all_deletes) {
    paths.push_back({"Cache::DeleteMulti", [](Cache& cache, ChangeLog&, const auto& b) {
                       return cache.DeleteMulti(KeysOf(b));
                     }});
    if (batch.size() == 1) {
      paths.push_back({"Cache::Delete", [](Cache& cache, ChangeLog&, const auto& b) {
                         return cache.Delete(b[0].key);
                       }});
    }
  }
  return paths;
}

// Checks that `at_limit` is accepted (through `accepting_paths` of its write paths, all of them
// when 0) and that `over_limit` is refused by every path with a message naming `limit`, leaving
// the log's head where it was.
void ExpectBoundary(Cache& cache, ChangeLog& log, const std::vector<Mutation>& at_limit,
                    const std::vector<Mutation>& over_limit, size_t limit,
                    size_t accepting_paths = 0) {
  std::vector<WritePath> paths = PathsFor(at_limit);
  if (accepting_paths != 0 && paths.size() > accepting_paths) paths.resize(accepting_paths);
  for (const WritePath& path : paths) {
    const uint64_t head = log.HeadId();
    EXPECT_EQ(path.write(cache, log, at_limit), head + 1) << path.name;
  }
  for (const WritePath& path : PathsFor(over_limit)) {
    const uint64_t head = log.HeadId();
    try {
      path.write(cache, log, over_limit);
      ADD_FAILURE() << path.name << " accepted a batch over the limit of " << limit;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << path.name << ": " << e.what();
      const std::string message = e.what();
      EXPECT_NE(message.find("limit of " + std::to_string(limit)), std::string::npos)
          << path.name << ": " << message;
    }
    EXPECT_EQ(log.HeadId(), head) << path.name;
  }
}

}  // namespace

TEST_P(WriteLimitsTest, KeyOfExactlyTheLimitIsAcceptedOneByteMoreIsRefused) {
  const std::string at(kMaxKeyBytes, 'k');
  const std::string over(kMaxKeyBytes + 1, 'k');
  ExpectBoundary(*cache_, *log_, {Mutation::Set(at, "v")}, {Mutation::Set(over, "v")},
                 kMaxKeyBytes);
  ExpectBoundary(*cache_, *log_, {Mutation::Delete(at)}, {Mutation::Delete(over)}, kMaxKeyBytes);
  // An oversized key anywhere in a batch refuses the whole batch.
  ExpectBoundary(*cache_, *log_, {Mutation::Set("a", "1"), Mutation::Set(at, "2")},
                 {Mutation::Set("a", "1"), Mutation::Set(over, "2")}, kMaxKeyBytes);
  cache_->UpdateNow();
  EXPECT_EQ(cache_->Get(at), "2");
  EXPECT_EQ(cache_->Get(over), std::nullopt);
}

TEST_P(WriteLimitsTest, ValueOfExactlyTheLimitIsAcceptedOneByteMoreIsRefused) {
  // Large writes are slow: accept through two paths, refuse through all (refusing is cheap).
  ExpectBoundary(*cache_, *log_, {Mutation::Set("big", std::string(kMaxValueBytes, 'v'))},
                 {Mutation::Set("big", std::string(kMaxValueBytes + 1, 'w'))}, kMaxValueBytes,
                 /*accepting_paths=*/2);
  cache_->UpdateNow();
  const std::optional<std::string> value = cache_->Get("big");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->size(), kMaxValueBytes);
}

TEST_P(WriteLimitsTest, BatchOfExactlyTheMutationLimitIsAcceptedOneMoreIsRefused) {
  std::vector<Mutation> at;
  at.reserve(kMaxBatchMutations + 1);
  for (size_t i = 0; i < kMaxBatchMutations; ++i) at.push_back(Mutation::Delete(std::to_string(i)));
  std::vector<Mutation> over = at;
  over.push_back(Mutation::Delete("one more"));
  ExpectBoundary(*cache_, *log_, at, over, kMaxBatchMutations, /*accepting_paths=*/1);
}

TEST_P(WriteLimitsTest, BatchOfExactlyTheByteLimitIsAcceptedOneByteMoreIsRefused) {
  // Two values one byte under the value limit, with one-byte keys, fill the batch exactly.
  static_assert(kMaxBatchBytes == 2 * kMaxValueBytes);
  const std::vector<Mutation> at = {Mutation::Set("a", std::string(kMaxValueBytes - 1, 'a')),
                                    Mutation::Set("b", std::string(kMaxValueBytes - 1, 'b'))};
  std::vector<Mutation> over = at;
  over.back().key = "bc";
  ExpectBoundary(*cache_, *log_, at, over, kMaxBatchBytes, /*accepting_paths=*/1);
}

}  // namespace whycache::testing
