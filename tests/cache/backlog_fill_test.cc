// A new machine filling its state from a long log: the whole backlog, however the writers cut
// it into batches, is built in one sorted pass, and equals the history the test wrote.
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/tree/tree.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

// Keys that overlap a lot: short ones that prefix longer ones ("k:1", "k:12"), a few with NUL
// bytes, and many heads of 16 bytes shared by keys that differ further on.
std::string KeyOf(uint64_t n) {
  switch (n % 4) {
    case 0:
      return "k:" + std::to_string(n / 4);
    case 1:
      return "k:" + std::to_string(n / 4) + ":suffix";
    case 2:
      return "a/very/long/shared/head:" + std::to_string(n);
    default:
      return std::string("bin\0", 4) + std::to_string(n);
  }
}

class BacklogFillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fresh_ = FileLogBackend().create();
    options_.state_path = dir_.File("machine.state");
    options_.log_uri = fresh_->uri();
  }

  // Appends `batches` batches of `per_batch` random sets and deletes over `key_space` keys,
  // the same key often several times in one batch, and records them in model_.
  void Write(int batches, int per_batch, uint64_t key_space, uint64_t seed) {
    std::unique_ptr<ChangeLog> log = fresh_->Open({});
    std::mt19937_64 rng(seed);
    for (int b = 0; b < batches; ++b) {
      std::vector<Mutation> batch;
      for (int i = 0; i < per_batch; ++i) {
        const std::string key = KeyOf(rng() % key_space);
        if (rng() % 4 == 0) {
          batch.push_back(Mutation::Delete(key));
          model_.erase(key);
        } else {
          const std::string value = std::to_string(b) + "/" + std::to_string(i) +
                                    std::string(rng() % 40, static_cast<char>(rng()));
          batch.push_back(Mutation::Set(key, value));
          model_[key] = value;
        }
      }
      last_id_ = log->Append(batch);
    }
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
  CacheOptions options_;
  Model model_;
  uint64_t last_id_ = 0;
};

TEST_F(BacklogFillTest, BacklogOfManyBatchesIsBuiltInOneCommitEqualToTheHistory) {
  // 281,600 mutations in 1,100 batches: more than one write transaction of a serving state
  // holds (262,144 mutations, read 1,024 batches at a time).
  Write(1100, 256, 60'000, 1);
  std::unique_ptr<Cache> cache = Cache::Open(options_);
  EXPECT_EQ(cache->UpdateNow(), last_id_);
  EXPECT_EQ(FirstDifference(model_, ScanAll(*cache)), "");
  EXPECT_EQ(cache->Stats().keys, model_.size());
  cache->Verify();
  // A new file starts at version 1: one commit filled it.
  std::unique_ptr<tree::Tree> state = tree::Tree::Open(options_.state_path);
  EXPECT_EQ(state->Stats().version, 2u);
}

TEST_F(BacklogFillTest, SmallBatchesAfterTheFillKeepMatchingTheHistory) {
  Write(50, 2000, 20'000, 2);
  std::unique_ptr<Cache> cache = Cache::Open(options_);
  cache->UpdateNow();
  for (int round = 0; round < 20; ++round) {
    Write(1, 100, 20'000, 100 + round);
    EXPECT_EQ(cache->UpdateNow(), last_id_);
    ASSERT_EQ(FirstDifference(model_, ScanAll(*cache)), "") << "after round " << round;
  }
  cache->Verify();
}

TEST_F(BacklogFillTest, SecondMachineFillsWhileTheFirstServes) {
  Write(100, 1000, 30'000, 3);
  std::unique_ptr<Cache> a = Cache::Open(options_);
  a->UpdateNow();
  Write(100, 1000, 30'000, 4);
  CacheOptions b_options = options_;
  b_options.state_path = dir_.File("b.state");
  std::unique_ptr<Cache> b = Cache::Open(b_options);
  EXPECT_EQ(a->UpdateNow(), last_id_);
  EXPECT_EQ(b->UpdateNow(), last_id_);
  EXPECT_EQ(FirstDifference(model_, ScanAll(*a)), "");
  EXPECT_EQ(FirstDifference(model_, ScanAll(*b)), "");
}

}  // namespace
}  // namespace whycache::testing
