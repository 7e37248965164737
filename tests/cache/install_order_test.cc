// A state built beside the current one (a first fill, a resync, a snapshot restore) never takes
// readers back: if appliers of other processes moved the current state past it while it was
// being built, the install keeps the current state, unless the caller asked to go back.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/cache/applier.h"
#include "lib/cache/shared_control.h"
#include "lib/cache/state_rebuild.h"
#include "lib/tree/tree.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

class InstallOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CacheOptions options;
    options.state_path = path_;
    options.log_uri = fresh_->uri();
    Cache::Open(options);  // Creates the state file and its control block, applying nothing.
    tree_ = tree::Tree::Open(path_, cache::StateTreeOptions());
  }

  // Appends one batch that sets `key` and records it in model_.
  void Append(const std::string& key) {
    const std::string value = "v" + std::to_string(model_.size());
    log_->Append(std::vector<Mutation>{Mutation::Set(key, value)});
    model_[key] = value;
  }

  std::map<std::string, std::string> State() {
    std::map<std::string, std::string> state;
    tree::ReadTxn txn = tree_->BeginRead();
    txn.Scan("", [&](std::string_view key, std::string_view value) {
      state.emplace(key, value);
      return true;
    });
    return state;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("machine.state");
  std::unique_ptr<FreshLog> fresh_ = FileLogBackend().create();
  std::unique_ptr<ChangeLog> log_ = fresh_->Open({});
  std::unique_ptr<tree::Tree> tree_;
  std::map<std::string, std::string> model_;
};

TEST_F(InstallOrderTest, AFillOvertakenByAnApplierLeavesTheNewerStateInPlace) {
  for (int i = 0; i < 5; ++i) Append("early" + std::to_string(i));
  cache::ScopedFlock replacing(cache::ReplacementLockPath(path_));
  const bool installed = cache::BuildAndInstall(*tree_, 0, [&](tree::Tree& fresh) {
    ASSERT_EQ(cache::CatchUpFromLog(fresh, *log_, UINT64_MAX, "the test's fill"), 5u);
    // Meanwhile an applier of another process, which found the log empty when it looked for a
    // fill to make, applies the log to the current state, past what the fill holds.
    for (int i = 0; i < 4; ++i) Append("late" + std::to_string(i));
    ASSERT_EQ(cache::ApplyFromLog(*tree_, *log_, /*wait=*/true, SIZE_MAX).applied_id, 9u);
  });
  EXPECT_FALSE(installed);
  EXPECT_EQ(tree_->BeginRead().AppliedId(), 9u) << "the install took readers back";
  EXPECT_EQ(State(), model_);
}

TEST_F(InstallOrderTest, AFillNotOvertakenIsInstalled) {
  for (int i = 0; i < 5; ++i) Append("early" + std::to_string(i));
  cache::ScopedFlock replacing(cache::ReplacementLockPath(path_));
  EXPECT_TRUE(cache::BuildAndInstall(*tree_, 0, [&](tree::Tree& fresh) {
    cache::CatchUpFromLog(fresh, *log_, UINT64_MAX, "the test's fill");
  }));
  EXPECT_EQ(tree_->BeginRead().AppliedId(), 5u);
  EXPECT_EQ(State(), model_);
}

TEST_F(InstallOrderTest, GoingBackIsInstalledOnlyWhenAskedFor) {
  for (int i = 0; i < 3; ++i) Append("early" + std::to_string(i));
  const std::map<std::string, std::string> at_three = model_;
  ASSERT_EQ(cache::ApplyFromLog(*tree_, *log_, /*wait=*/true, SIZE_MAX).applied_id, 3u);
  Append("late");
  ASSERT_EQ(cache::ApplyFromLog(*tree_, *log_, /*wait=*/true, SIZE_MAX).applied_id, 4u);
  // A state built beside it at update 3.
  const auto build_at_three = [&](tree::Tree& fresh) {
    ASSERT_EQ(cache::ApplyFromLog(fresh, *log_, /*wait=*/true, /*max_updates=*/3,
                                  cache::ApplyMode::kBuilding)
                  .applied_id,
              3u);
  };
  cache::ScopedFlock replacing(cache::ReplacementLockPath(path_));
  EXPECT_FALSE(cache::BuildAndInstall(*tree_, 0, build_at_three));
  EXPECT_EQ(tree_->BeginRead().AppliedId(), 4u);
  EXPECT_TRUE(cache::BuildAndInstall(*tree_, 0, build_at_three, tree::IfOlder::kInstall));
  EXPECT_EQ(tree_->BeginRead().AppliedId(), 3u);
  EXPECT_EQ(State(), at_three);
}

}  // namespace
}  // namespace whycache::testing
