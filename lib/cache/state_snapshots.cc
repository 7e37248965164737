#include "lib/cache/state_snapshots.h"

#include "lib/cache/shared_control.h"
#include "lib/cache/state_rebuild.h"
#include "lib/snapshot/snapshot_file.h"
#include "whycache/error.h"

namespace whycache {
namespace {

SnapshotInfo ToPublic(const snapshot::SnapshotInfo& s) {
  SnapshotInfo info;
  info.format_version = s.format_version;
  info.dataset_id = s.dataset_id;
  info.applied_id = s.applied_id;
  info.horizon = s.horizon;
  info.key_count = s.key_count;
  info.raw_bytes = s.raw_bytes;
  info.file_bytes = s.file_bytes;
  return info;
}

}  // namespace

SnapshotInfo VerifySnapshot(const std::string& path) {
  return ToPublic(snapshot::ReadSnapshot(path, nullptr));
}

namespace cache {

SnapshotInfo CreateStateSnapshot(tree::Tree& tree, const std::string& path, uint64_t horizon,
                                 const ProgressCallback& progress) {
  const std::string dataset(DatasetId(*ControlOf(tree)));
  tree::ReadTxn txn = tree.BeginRead();
  return ToPublic(snapshot::WriteSnapshot(
      path, dataset, txn.AppliedId(), horizon, txn.KeyCount(),
      [&](const auto& emit) {
        for (tree::Iterator it = txn.LowerBound(""); it.Valid(); it.Next()) {
          emit(it.key(), it.value());
        }
      },
      progress));
}

namespace {

// Throws the reason why the snapshot at `path` cannot seed `tree`'s state.
void CheckUsable(tree::Tree& tree, const std::string& path, uint64_t horizon) {
  const snapshot::SnapshotInfo header = snapshot::ReadSnapshotHeader(path);
  const std::string dataset(DatasetId(*ControlOf(tree)));
  if (header.dataset_id != dataset) {
    throw Error(Error::Code::kIncompatible,
                "snapshot " + path + " is of dataset " + header.dataset_id + ", but " +
                    tree.path() + " holds dataset " + dataset +
                    ": restore a snapshot made from this dataset's log");
  }
  if (header.applied_id < horizon) {
    throw Error(Error::Code::kInvalidArgument,
                "snapshot " + path + " is at update " + std::to_string(header.applied_id) +
                    ", below the log's horizon " + std::to_string(horizon) +
                    ": the log can no longer bring it up to date; make a newer snapshot");
  }
}

}  // namespace

bool SnapshotUsable(tree::Tree& tree, const std::string& path, uint64_t horizon, std::string* why) {
  try {
    CheckUsable(tree, path, horizon);
    return true;
  } catch (const Error& e) {
    *why = e.what();
    return false;
  }
}

SnapshotInfo FillFromSnapshot(tree::Tree& fresh, const std::string& path,
                              const ProgressCallback& progress) {
  const snapshot::SnapshotInfo header = snapshot::ReadSnapshotHeader(path);
  snapshot::SnapshotInfo read;
  fresh.Load(
      header.key_count, header.raw_bytes,
      [&](const auto& add) {
        read = snapshot::ReadSnapshot(path, add, progress);
        if (read.applied_id != header.applied_id) {
          throw Error(Error::Code::kCorruption,
                      "snapshot " + path + " was replaced while it was being restored");
        }
      },
      header.applied_id);
  return ToPublic(read);
}

SnapshotInfo RestoreStateSnapshot(tree::Tree& tree, const std::string& path, ChangeLog& log,
                                  bool force, const ProgressCallback& progress) {
  CheckUsable(tree, path, log.Horizon());
  ScopedFlock replacing(ReplacementLockPath(tree.path()));
  SnapshotInfo restored;
  const auto restore = [&](tree::Tree& fresh) {
    restored = FillFromSnapshot(fresh, path, progress);
    // Appliers of other processes may move the current state on meanwhile: the target is read
    // again until the restored state has reached it.
    uint64_t reached = restored.applied_id;
    for (;;) {
      const uint64_t current = tree.BeginRead().AppliedId();
      if (reached >= current) break;
      reached = CatchUpFromLog(fresh, log, current, "the restore of snapshot " + path);
      if (reached >= current) continue;
      if (force) break;
      throw Error(Error::Code::kInvalidArgument,
                  "snapshot " + path + " is at update " + std::to_string(restored.applied_id) +
                      " and the log " + log.Describe() + " brings it only up to update " +
                      std::to_string(reached) + ", below update " + std::to_string(current) +
                      " that " + tree.path() +
                      " holds: restoring it would take the machine's readers back; restore it "
                      "with force (`whycache snapshot restore --force`) if that is meant");
    }
  };
  const uint64_t size_hint = snapshot::ReadSnapshotHeader(path).raw_bytes;
  if (force) {
    BuildAndInstall(tree, size_hint, restore, tree::IfOlder::kInstall);
    return restored;
  }
  // An applier may still move the current state on between the restore's last look and the
  // install: the install then refuses, and the restore is made again.
  constexpr int kAttempts = 3;
  for (int attempt = 1; !BuildAndInstall(tree, size_hint, restore); ++attempt) {
    if (attempt == kAttempts) {
      throw Error(Error::Code::kUnavailable, "appliers kept moving " + tree.path() +
                                                 " on while snapshot " + path +
                                                 " was restored; try again");
    }
  }
  return restored;
}

}  // namespace cache
}  // namespace whycache
