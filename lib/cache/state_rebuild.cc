#include "lib/cache/state_rebuild.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "lib/cache/applier.h"
#include "lib/cache/shared_control.h"
#include "lib/io/crash_point.h"
#include "whycache/error.h"

namespace whycache::cache {
namespace {

void RemoveBuildFiles(const std::string& built) {
  std::error_code ignored;
  std::filesystem::remove(built, ignored);
  std::filesystem::remove(built + ".lock", ignored);
}

}  // namespace

std::string ReplacementLockPath(const std::string& state_path) { return state_path + ".replace"; }

bool BuildAndInstall(tree::Tree& tree, uint64_t size_hint, const FillFn& fill,
                     tree::IfOlder if_older) {
  const SharedControl& control = *ControlOf(tree);
  const std::string dataset(DatasetId(control));
  const int64_t poll_interval_ns = control.poll_interval_ns.load(std::memory_order_relaxed);
  const std::string built = tree.path() + ".rebuild-state";
  RemoveBuildFiles(built);
  try {
    {
      tree::TreeOptions options = StateTreeOptions();
      options.initial_file_bytes = std::max<uint64_t>(options.initial_file_bytes, size_hint * 2);
      std::unique_ptr<tree::Tree> fresh = tree::Tree::Open(built, options);
      // A new machine-wide control block: the same dataset, poll interval and boot, fresh state,
      // and the counters going on from where they were (monitoring reads them as ever-growing
      // totals, and a resync must not reset the count of resyncs). What other processes add
      // between here and the install is lost, as the header says of the whole user area.
      // Set before filling: a fill may move `fresh` to a new file (the user area goes with
      // it), so a pointer taken now is not used after it.
      SharedControl* fresh_control = ControlOf(*fresh);
      InitializeControl(fresh_control, dataset, poll_interval_ns);
      fresh_control->unpolled_since_wall_us.store(
          control.unpolled_since_wall_us.load(std::memory_order_relaxed),
          std::memory_order_relaxed);
      const ErrorRecord note = ResyncSnapshotUnused(control);
      RecordResyncSnapshotUnused(fresh_control, note.message, note.wall_us);
      for (int i = 0; i < 2; ++i) {
        fresh_control->schedule_boot[i].store(
            control.schedule_boot[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
      }
      const auto carry = [](std::atomic<uint64_t>& to, const std::atomic<uint64_t>& from) {
        to.fetch_add(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
      };
      carry(fresh_control->polls, control.polls);
      carry(fresh_control->poll_errors, control.poll_errors);
      carry(fresh_control->batches_applied, control.batches_applied);
      carry(fresh_control->mutations_applied, control.mutations_applied);
      carry(fresh_control->apply_ns, control.apply_ns);
      carry(fresh_control->resyncs, control.resyncs);
      fill(*fresh);
    }
    io::CrashPoint("state_rebuild.before_install");
    const bool installed = tree.Install(built, if_older);
    io::CrashPoint("state_rebuild.after_install");
    RemoveBuildFiles(built);
    return installed;
  } catch (...) {
    RemoveBuildFiles(built);
    throw;
  }
}

uint64_t CatchUpFromLog(tree::Tree& fresh, ChangeLog& log, uint64_t at_least,
                        const std::string& what) {
  for (;;) {
    const uint64_t applied = fresh.BeginRead().AppliedId();
    if (applied >= at_least) return applied;
    const ApplyResult r = ApplyFromLog(fresh, log, /*wait=*/true, SIZE_MAX, ApplyMode::kBuilding);
    if (r.below_horizon) {
      throw Error(Error::Code::kUnavailable, "the log " + log.Describe() +
                                                 " was compacted again during " + what +
                                                 "; the next attempt retries");
    }
    if (r.caught_up) return r.applied_id;
  }
}

}  // namespace whycache::cache
