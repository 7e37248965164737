#include "lib/cache/state_snapshots.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include "lib/cache/shared_control.h"
#include "lib/snapshot/snapshot_file.h"
#include "whycache/error.h"

namespace whycache {
namespace {

// Entries per write transaction while restoring: bounds the memory a transaction buffers.
constexpr size_t kRestoreBatch = 65536;

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

void RemoveBuildFiles(const std::string& built) {
  std::error_code ignored;
  std::filesystem::remove(built, ignored);
  std::filesystem::remove(built + ".lock", ignored);
}

}  // namespace

SnapshotInfo VerifySnapshot(const std::string& path) {
  return ToPublic(snapshot::ReadSnapshot(path, nullptr));
}

namespace cache {

SnapshotInfo CreateStateSnapshot(tree::Tree& tree, const std::string& path, uint64_t horizon,
                                 const ProgressCallback& progress) {
  const std::string dataset(DatasetId(*reinterpret_cast<SharedControl*>(tree.UserArea())));
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

SnapshotInfo RestoreStateSnapshot(tree::Tree& tree, const std::string& path, uint64_t horizon,
                                  const ProgressCallback& progress) {
  const snapshot::SnapshotInfo header = snapshot::ReadSnapshotHeader(path);
  const SharedControl& control = *reinterpret_cast<SharedControl*>(tree.UserArea());
  const std::string dataset(DatasetId(control));
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

  const std::string built = tree.path() + ".restore";
  RemoveBuildFiles(built);
  try {
    snapshot::SnapshotInfo read;
    {
      tree::TreeOptions options;
      options.initial_file_bytes =
          std::max<uint64_t>(options.initial_file_bytes, header.raw_bytes * 2);
      std::unique_ptr<tree::Tree> fresh = tree::Tree::Open(built, options);
      // A new machine-wide control block: the same dataset and poll schedule, fresh counters.
      auto* fresh_control = reinterpret_cast<SharedControl*>(fresh->UserArea());
      std::memset(static_cast<void*>(fresh_control), 0, sizeof(SharedControl));
      InitializeControl(fresh_control, dataset,
                        control.poll_interval_ns.load(std::memory_order_relaxed));
      std::unique_ptr<tree::WriteTxn> txn = fresh->BeginWrite(true);
      read = snapshot::ReadSnapshot(
          path,
          [&](std::string_view key, std::string_view value) {
            txn->Put(key, value);
            if (txn->size() >= kRestoreBatch) {
              txn->Commit(header.applied_id);
              txn.reset();  // Releases the writer lock before taking it again.
              txn = fresh->BeginWrite(true);
            }
          },
          progress);
      txn->Commit(read.applied_id);
    }
    tree.Install(built);
    RemoveBuildFiles(built);
    return ToPublic(read);
  } catch (...) {
    RemoveBuildFiles(built);
    throw;
  }
}

}  // namespace cache
}  // namespace whycache
