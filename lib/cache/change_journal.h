// A machine's journal of what its appliers changed: a ring of records in a file of its own next
// to the state file (PATH.journal), from which every process of the machine learns which keys
// changed since it last looked, whichever process applied them (Cache::Subscribe).
//
// Each record covers the updates (after_id, last_id] of one committed write transaction: the keys
// its sets and deletes touched and the prefixes it deleted (not the values: a subscriber reads
// those from the state). A reload record says that the state changed in ways the journal does
// not list (a resync, a restored snapshot, a first fill, or records that were never written).
//
// Appliers append a record after their commit, while they still hold the tree's writer lock, so
// records come in commit order and a record's changes are visible in the state before the
// record is. A process killed between the two leaves a gap, which the next append fills with a
// reload record. Appliers write records only while some process of the machine has said that
// it reads them (a subscriber's lease, renewed as it reads), so a machine without subscribers
// pays nothing; a subscriber whose lease lapsed assumes it missed changes.
//
// Readers never block the writer: they copy records and then check that the writer has not
// reclaimed the space meanwhile (a reader that fell behind by more than the ring is told to
// reload). The file holds no data that the log cannot give again: a damaged one is reset.
#ifndef WHYCACHE_LIB_CACHE_CHANGE_JOURNAL_H_
#define WHYCACHE_LIB_CACHE_CHANGE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/io/posix_file.h"
#include "whycache/change_log.h"

namespace whycache::cache {

// One record as read back.
struct JournalRecord {
  bool reload = false;
  uint64_t after_id = 0;
  uint64_t last_id = 0;
  // Sets and deletes (op and key; no value) and prefix deletes, in applied order. Empty for a
  // reload record.
  std::vector<Mutation> changes;
};

class ChangeJournal {
 public:
  // The ring's size: enough for a few seconds of a busy machine's keys between two looks.
  static constexpr uint64_t kRingBytes = uint64_t{4} << 20;
  // A transaction that touched more key bytes than this is journaled as a reload record.
  static constexpr uint64_t kMaxRecordBytes = kRingBytes / 8;
  // How long a subscriber's word that it reads the journal holds.
  static constexpr int64_t kLeaseMicros = 60'000'000;

  // Opens the journal at `path`, creating it (or resetting one that is not a journal of this
  // format) when needed. Throws Error(kIOError) naming the path when it cannot be opened or
  // mapped. Thread-safe; the object may be shared by the threads of one process.
  static std::unique_ptr<ChangeJournal> Open(const std::string& path);
  ~ChangeJournal();

  // The journal next to the state file at `state_path`.
  static std::string PathFor(const std::string& state_path);

  // Writer side. REQUIRES: the caller holds the state tree's writer lock, so appends come in
  // commit order.
  //
  // Whether some process read the journal within kLeaseMicros: appliers write records only then.
  bool Wanted(int64_t now_us) const;
  // Records that the updates of `pages` with ids in (after_id, last_id] were committed. When
  // the journal's last record does not end at `after_id` (an applier died between its commit and
  // its append, or no one wanted records meanwhile), a reload record up to `after_id` comes
  // first. Beyond kMaxRecordBytes of keys the record is a reload record.
  void AppendChanges(uint64_t after_id, uint64_t last_id,
                     const std::vector<std::vector<Update>>& pages);
  // Records that the state was replaced and is now at `last_id`.
  void AppendReload(uint64_t last_id);

  // Reader side.
  struct Cursor {
    uint64_t position = 0;  // Where the next record begins.
  };
  // A cursor at the journal's end: a new reader sees only what is appended after it.
  Cursor End() const;
  // Where the next record will begin: a reader whose cursor is there has read everything.
  uint64_t Head() const;
  // Appends to `out` the records after `cursor` and moves it past them. Returns false, with the
  // cursor at the end, when records after it were overwritten before they were read (the reader
  // fell more than the ring behind) or the ring is inconsistent: the reader must reload.
  bool ReadNew(Cursor* cursor, std::vector<JournalRecord>* out) const;
  // Tells appliers that this process reads the journal, for kLeaseMicros from `now_us`. Returns
  // false when no reader's word held until now: appliers may have skipped records.
  bool RenewLease(int64_t now_us);

 private:
  struct Header;
  ChangeJournal(io::File file, char* base);
  Header* header() const;
  std::atomic<uint64_t>* ring() const;
  // Appends one encoded record. REQUIRES: file lock held.
  void AppendLocked(const std::string& record, uint64_t last_id);
  void AppendReloadLocked(uint64_t last_id);

  io::File file_;
  char* base_;
};

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_CHANGE_JOURNAL_H_
