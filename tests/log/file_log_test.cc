// File-log specific behaviour: crashes of appenders, damaged segments, rollover, permissions
// and URIs. The behaviour every log shares is in the conformance suite.
#include "lib/log/file_log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "tests/log/file_log_inspection.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

using ::testing::HasSubstr;

class FileLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<log::FileLog> OpenLog(uint64_t segment_bytes = uint64_t{64} << 20,
                                        FsyncPolicy fsync = FsyncPolicy::kEveryAppend) {
    log::FileLogOptions options;
    options.create_if_missing = true;
    options.segment_bytes = segment_bytes;
    options.fsync = fsync;
    return log::FileLog::Open(dir_, options);
  }

  std::string SegmentPath(uint64_t number) const {
    return dir_ + "/" + log::SegmentFileName(number);
  }

  // Seals segment `number` as an appender killed before publishing its successor leaves it.
  void SealWithoutSuccessor(uint64_t number) const {
    const log::File file = log::File::Open(SegmentPath(number), O_WRONLY);
    const std::string seal = log::EncodeFrameHeader(log::FrameType::kSeal, 0, 0);
    const std::string_view pieces[] = {seal};
    file.WriteAt(FileSize(SegmentPath(number)), pieces);
  }

  TempDir temp_;
  const std::string dir_ = temp_.File("log");
};

std::vector<Mutation> Batch(const std::string& key, const std::string& value) {
  return {Mutation::Set(key, value)};
}

std::vector<Update> ReadAll(ChangeLog& log, uint64_t after_id = 0) {
  std::vector<Update> all;
  for (int i = 0; i < 100'000; ++i) {
    std::vector<Update> page = log.ReadAfter(after_id, 1000);
    if (page.empty()) break;
    after_id = page.back().id;
    for (Update& u : page) all.push_back(std::move(u));
  }
  return all;
}

std::string ReadFileBytes(const std::string& path) {
  const log::File file = log::File::Open(path, O_RDONLY);
  std::string bytes(file.Size(), '\0');
  bytes.resize(file.ReadAt(0, bytes.data(), bytes.size()));
  return bytes;
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  const log::File file = log::File::Open(path, O_WRONLY | O_TRUNC);
  const std::string_view pieces[] = {bytes};
  file.WriteAt(0, pieces);
}

// The message of the Error(kCorruption) that reading the whole log throws.
std::string CorruptionReadingAll(ChangeLog& log) {
  try {
    ReadAll(log);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "reading the damaged log did not fail";
  return "";
}

TEST_F(FileLogTest, FlippedFrameHeaderByteNamesSegmentAndOffset) {
  auto log = OpenLog();
  log->Append(Batch("a", "1"));
  const uint64_t b = log->Append(Batch("b", "2"));
  log->Append(Batch("c", "3"));
  const FrameLocation frame = *FindFrame(dir_, b);
  FlipByte(frame.path, frame.offset + 6);
  const std::string message = CorruptionReadingAll(*OpenLog());
  EXPECT_THAT(message, HasSubstr(log::SegmentFileName(1)));
  EXPECT_THAT(message, HasSubstr("at offset " + std::to_string(frame.offset)));
  // An appender refuses to write after damage rather than bury it.
  try {
    OpenLog()->Append(Batch("d", "4"));
    ADD_FAILURE() << "appended after a damaged frame";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption);
    EXPECT_THAT(e.what(), HasSubstr(log::SegmentFileName(1)));
  }
}

TEST_F(FileLogTest, FlippedRecordByteNamesSegmentAndOffset) {
  auto log = OpenLog();
  log->Append(Batch("a", "1"));
  const uint64_t b = log->Append(Batch("b", std::string(3000, 'x')));
  log->Append(Batch("c", "3"));
  const FrameLocation frame = *FindFrame(dir_, b);
  const uint64_t body = frame.offset + log::kFrameHeaderSize;
  FlipByte(frame.path, body + frame.header.body_length - 1);
  auto reader = OpenLog();
  const std::vector<Update> first = reader->ReadAfter(0, 10);
  ASSERT_EQ(first.size(), 1u);
  const std::string message = CorruptionReadingAll(*reader);
  EXPECT_THAT(message, HasSubstr(frame.path));
  EXPECT_THAT(message, HasSubstr("at offset " + std::to_string(body)));
  EXPECT_THAT(message, HasSubstr("checksum"));
}

// Every single-byte change anywhere in a segment is reported; none crashes, hangs or yields
// different updates.
TEST_F(FileLogTest, EveryFlippedByteIsDetected) {
  std::vector<Update> expected;
  {
    auto log = OpenLog();
    log->Append(Batch("a", "1"));
    log->Append(
        std::vector<Mutation>{Mutation::Set("b", std::string(2000, 'b')), Mutation::Delete("a")});
    log->Append(Batch("c", ""));
    expected = ReadAll(*log);
  }
  const std::string path = SegmentPath(1);
  const uint64_t size = FileSize(path);
  for (uint64_t offset = 0; offset < size; ++offset) {
    FlipByte(path, offset);
    try {
      const std::vector<Update> got = ReadAll(*log::FileLog::Open(dir_, {}));
      ADD_FAILURE() << "flip at " << offset << " went unnoticed (" << got.size() << " updates)";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << "flip at " << offset << ": " << e.what();
      EXPECT_THAT(e.what(), HasSubstr(path)) << "flip at " << offset;
    }
    FlipByte(path, offset);
  }
  EXPECT_EQ(ReadAll(*OpenLog()), expected);
}

TEST_F(FileLogTest, TornTailIsIgnoredAndTruncatedByTheNextAppend) {
  auto log = OpenLog();
  const uint64_t a = log->Append(Batch("a", "1"));
  const uint64_t b = log->Append(Batch("b", std::string(500, 'b')));
  const FrameLocation frame = *FindFrame(dir_, b);
  const uint64_t full = FileSize(frame.path);
  const std::string original = ReadFileBytes(frame.path);
  // Every prefix of the last frame is what a writer killed mid-write leaves behind.
  for (uint64_t cut = frame.offset + 1; cut < full; cut += 37) {
    WriteFileBytes(frame.path, original.substr(0, cut));
    auto reader = OpenLog();
    const std::vector<Update> got = ReadAll(*reader);
    ASSERT_EQ(got.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(got[0].id, a);
    EXPECT_EQ(reader->HeadId(), a);
  }
  TruncateFile(frame.path, frame.offset + 30);
  auto reader = OpenLog();
  EXPECT_EQ(ReadAll(*reader).size(), 1u);
  const uint64_t c = OpenLog()->Append(Batch("c", "3"));
  EXPECT_EQ(c, a + 1);
  const std::vector<Update> got = reader->ReadAfter(a, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, c);
  EXPECT_EQ(got[0].mutations, Batch("c", "3"));
}

// A machine crash can leave allocated but unwritten (zero) space at the end of a file: that is a
// torn tail too. Non-zero garbage is damage.
TEST_F(FileLogTest, ZeroTailIsTornButGarbageTailIsCorruption) {
  auto log = OpenLog();
  const uint64_t a = log->Append(Batch("a", "1"));
  const std::string path = SegmentPath(1);
  const uint64_t end = FileSize(path);
  TruncateFile(path, end + 4096);
  EXPECT_EQ(ReadAll(*OpenLog()).size(), 1u);
  EXPECT_EQ(OpenLog()->Append(Batch("b", "2")), a + 1);
  EXPECT_EQ(ReadAll(*OpenLog()).size(), 2u);

  const uint64_t end2 = FileSize(path);
  TruncateFile(path, end2 + 100);
  FlipByte(path, end2 + 50);
  const std::string message = CorruptionReadingAll(*OpenLog());
  EXPECT_THAT(message, HasSubstr("at offset " + std::to_string(end2)));
}

TEST_F(FileLogTest, RolloverSealsSegmentsAndReadersFollow) {
  auto writer = OpenLog(/*segment_bytes=*/4096);
  auto reader = OpenLog(4096);
  std::vector<uint64_t> ids;
  uint64_t read_to = 0;
  size_t read_count = 0;
  for (int i = 0; i < 200; ++i) {
    ids.push_back(writer->Append(Batch("k" + std::to_string(i), std::string(100, 'v'))));
    // The reader follows the writer across segments, one poll at a time.
    if (i % 7 == 0) {
      for (const Update& u : ReadAll(*reader, read_to)) {
        EXPECT_EQ(u.id, ids[read_count]);
        ++read_count;
        read_to = u.id;
      }
    }
  }
  for (const Update& u : ReadAll(*reader, read_to)) {
    EXPECT_EQ(u.id, ids[read_count]);
    ++read_count;
  }
  EXPECT_EQ(read_count, ids.size());
  const log::Manifest m = log::ReadManifest(dir_);
  EXPECT_GT(m.segments.size(), 5u);
  EXPECT_EQ(m.horizon, 0u);
  EXPECT_EQ(OpenLog()->HeadId(), ids.back());
  // A fresh reader can start in the middle of any segment.
  EXPECT_EQ(ReadAll(*OpenLog(), ids[100]).size(), 99u);
}

TEST_F(FileLogTest, TruncatedSealedSegmentIsCorruption) {
  // An appender that last appended to segment 1, before others filled it and moved on.
  auto lagging = OpenLog(/*segment_bytes=*/2048);
  lagging->Append(Batch("first", "1"));
  {
    auto log = OpenLog(/*segment_bytes=*/2048);
    for (int i = 0; i < 40; ++i) log->Append(Batch("k" + std::to_string(i), std::string(100, 'v')));
  }
  ASSERT_GT(log::ReadManifest(dir_).segments.size(), 2u);
  const std::string path = SegmentPath(1);
  const uint64_t size = FileSize(path);
  // Inside the last batch frame, and exactly where the seal was.
  TruncateFile(path, size - log::kFrameHeaderSize - 10);
  std::string message = CorruptionReadingAll(*OpenLog());
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("ends inside"));

  uint64_t last_frame_end = 0;
  for (const FrameLocation& f : ListFrames(dir_)) {
    if (f.path == path) last_frame_end = f.offset + log::kFrameHeaderSize + f.header.body_length;
  }
  TruncateFile(path, last_frame_end);
  message = CorruptionReadingAll(*OpenLog());
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("without its seal"));
  // Appending there would fork the log: the lagging appender must refuse.
  const uint64_t damaged_size = FileSize(path);
  try {
    lagging->Append(Batch("late", "2"));
    ADD_FAILURE() << "appended to a damaged sealed segment";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption);
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
  EXPECT_EQ(FileSize(path), damaged_size);
}

// An appender killed after sealing a segment but before publishing its successor leaves a
// sealed last segment: readers wait, and the next appender finishes the rollover.
TEST_F(FileLogTest, InterruptedRolloverIsCompletedByTheNextAppend) {
  auto log = OpenLog();
  const uint64_t a = log->Append(Batch("a", "1"));
  SealWithoutSuccessor(1);
  auto reader = OpenLog();
  EXPECT_EQ(ReadAll(*reader).size(), 1u);
  EXPECT_EQ(reader->HeadId(), a);
  const uint64_t b = OpenLog()->Append(Batch("b", "2"));
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(log::ReadManifest(dir_).segments.size(), 2u);
  const std::vector<Update> got = reader->ReadAfter(a, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, b);
}

// The same when the appender has itself scanned up to that seal before (HeadId): its append
// still goes to a new segment, not behind the seal where no reader would see it.
TEST_F(FileLogTest, InterruptedRolloverIsCompletedByAnAppenderThatScannedTheSeal) {
  const uint64_t a = OpenLog()->Append(Batch("a", "1"));
  SealWithoutSuccessor(1);
  auto appender = OpenLog();
  EXPECT_EQ(appender->HeadId(), a);
  const uint64_t b = appender->Append(Batch("b", "2"));
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(log::ReadManifest(dir_).segments.size(), 2u);
  const std::vector<Update> got = OpenLog()->ReadAfter(a, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, b);
  EXPECT_EQ(appender->HeadId(), b);
}

// Writers killed with SIGKILL at random points of their appends (encoding, writing a frame,
// syncing, rolling over) or in the middle of writing a frame never leave anything that readers
// return as data other than whole batches, and the log stays appendable.
TEST_F(FileLogTest, SigkillDuringAppendsNeverExposesPartialRecords) {
  constexpr int kIterations = 100;
  constexpr uint64_t kSegmentBytes = 2 << 20;
  const std::string payload = [] {
    std::mt19937_64 rng(7);
    std::string s(200 << 10, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }();
  // Batch n of iteration i: recognisable, incompressible and large enough (about 190 KiB) that
  // writing its frame takes a while.
  auto batch = [&](int i, int n) {
    const std::string tag = std::to_string(i) + "/" + std::to_string(n);
    return std::vector<Mutation>{Mutation::Set("big/" + tag, payload.substr(n % 1000, 190 << 10)),
                                 Mutation::Set("small/" + tag, tag), Mutation::Delete(tag)};
  };
  auto check = [&](const Update& u) {
    int i = 0;
    int n = 0;
    if (u.mutations.size() != 3 ||
        std::sscanf(u.mutations[1].key.c_str(), "small/%d/%d", &i, &n) != 2) {
      return false;
    }
    return u.mutations == batch(i, n);
  };
  OpenLog(kSegmentBytes);
  // Follows the writers while they are killed, across iterations.
  auto tailer = OpenLog(kSegmentBytes);
  uint64_t tailer_last = 0;
  size_t tailer_count = 0;
  auto follow = [&] {
    for (const Update& u : tailer->ReadAfter(tailer_last, 100)) {
      if (!check(u) || u.id <= tailer_last) return false;
      tailer_last = u.id;
      ++tailer_count;
    }
    return true;
  };
  std::mt19937 rng(12345);
  int torn_tails = 0;
  uint64_t last_seen = 0;
  size_t total = 0;
  for (int i = 0; i < kIterations; ++i) {
    // Odd iterations kill the writer where it announces (through a pipe, from inside its append
    // transaction) that it is about to write the frame of its `stop_at`-th append, and then
    // leave what a kill in the middle of that write leaves: a prefix of that very frame, taken
    // from the same append made on a copy of the log. Even ones kill at a random time, while
    // the tailer reads what the writer is writing.
    const bool announced = i % 2 == 1;
    const int stop_at = static_cast<int>(rng() % 20);
    int ready[2];
    int hold[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(hold), 0);
    ChildProcess writer([&] {
      close(ready[0]);
      close(hold[1]);
      log::FileLogOptions options;
      options.segment_bytes = kSegmentBytes;
      options.fsync = FsyncPolicy::kNever;
      int appends = 0;
      options.before_commit = [&] {
        if (!announced || appends++ != stop_at) return;
        if (write(ready[1], "x", 1) != 1) _exit(2);
        char c;
        while (read(hold[0], &c, 1) != 0) {
        }
        _exit(2);
      };
      auto log = log::FileLog::Open(dir_, options);
      for (int n = 0; n < 100'000; ++n) log->Append(batch(i, n));
      return 0;
    });
    close(ready[1]);
    close(hold[0]);
    if (announced) {
      char c;
      ASSERT_EQ(read(ready[0], &c, 1), 1) << "iteration " << i << ": the writer never got to "
                                          << "append " << stop_at;
    } else {
      const auto until =
          std::chrono::steady_clock::now() + std::chrono::microseconds(500 + rng() % 3000);
      while (std::chrono::steady_clock::now() < until) {
        ASSERT_TRUE(follow()) << "iteration " << i << ": the tailer saw a partial batch";
      }
    }
    writer.Signal(SIGKILL);
    writer.Wait();
    close(ready[0]);
    close(hold[1]);

    const log::Manifest m = log::ReadManifest(dir_);
    const std::string active = SegmentPath(m.segments.back().number);
    if (announced) {
      const std::string copy = temp_.File("copy");
      std::filesystem::copy(dir_, copy, std::filesystem::copy_options::recursive);
      log::FileLogOptions options;
      options.segment_bytes = kSegmentBytes;
      options.fsync = FsyncPolicy::kNever;
      log::FileLog::Open(copy, options)->Append(batch(i, stop_at));
      const uint64_t frame_at = FileSize(active);
      std::string frame(FileSize(copy + active.substr(dir_.size())) - frame_at, '\0');
      ASSERT_GT(frame.size(), 1u) << "iteration " << i << ": the copy appended elsewhere";
      ASSERT_EQ(pread(log::File::Open(copy + active.substr(dir_.size()), O_RDONLY).fd(),
                      frame.data(), frame.size(), static_cast<off_t>(frame_at)),
                static_cast<ssize_t>(frame.size()));
      const std::string_view torn[] = {
          std::string_view(frame).substr(0, 1 + rng() % (frame.size() - 1))};
      log::File::Open(active, O_WRONLY).WriteAt(frame_at, torn);
      std::filesystem::remove_all(copy);
    }
    const std::vector<FrameLocation> frames = ListFrames(dir_);
    uint64_t valid_end = log::kSegmentHeaderSize;
    for (const FrameLocation& f : frames) {
      if (f.path == active) valid_end = f.offset + log::kFrameHeaderSize + f.header.body_length;
    }
    if (FileSize(active) > valid_end) ++torn_tails;

    auto reader = OpenLog(kSegmentBytes);
    const std::vector<Update> got = ReadAll(*reader, last_seen);
    for (const Update& u : got) {
      ASSERT_TRUE(check(u)) << "iteration " << i << ": update " << u.id << " is not a whole batch";
      ASSERT_GT(u.id, last_seen);
      last_seen = u.id;
    }
    total += got.size();
    ASSERT_EQ(reader->HeadId(), last_seen);
    // The log stays appendable, right after the last whole batch.
    const uint64_t next = OpenLog(kSegmentBytes, FsyncPolicy::kNever)->Append(batch(i, 999'999));
    ASSERT_EQ(next, last_seen + 1);
    const std::vector<Update> after = reader->ReadAfter(last_seen, 10);
    ASSERT_EQ(after.size(), 1u);
    ASSERT_TRUE(check(after[0]));
    last_seen = next;
  }
  std::printf("%d of %d kills left a torn tail; %zu batches survived\n", torn_tails, kIterations,
              total);
  EXPECT_GE(torn_tails, kIterations / 2);
  EXPECT_EQ(ReadAll(*OpenLog()).size(), total + kIterations);
  // The tailer, which read during the kills, missed and repeated nothing either.
  for (int i = 0; i < 100'000 && tailer_last < last_seen; ++i) ASSERT_TRUE(follow());
  EXPECT_EQ(tailer_count, total + kIterations);
}

// Threads of one process, each with its own FileLog object, exclude each other through the lock
// file as processes do (flock locks belong to open file descriptions).
TEST_F(FileLogTest, ThreadsWithTheirOwnObjectsAppendAndReadTogether) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 200;
  OpenLog(/*segment_bytes=*/8192);
  std::vector<std::vector<uint64_t>> ids(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      auto log = OpenLog(8192, FsyncPolicy::kNever);
      for (int i = 0; i < kAppends; ++i) {
        ids[t].push_back(log->Append(Batch("t" + std::to_string(t), std::to_string(i))));
      }
    });
  }
  std::vector<Update> seen;
  {
    auto reader = OpenLog(8192);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    uint64_t last = 0;
    while (seen.size() < size_t{kThreads} * kAppends &&
           std::chrono::steady_clock::now() < deadline) {
      for (Update& u : reader->ReadAfter(last, 50)) {
        last = u.id;
        seen.push_back(std::move(u));
      }
    }
  }
  for (std::thread& w : writers) w.join();
  ASSERT_EQ(seen.size(), size_t{kThreads} * kAppends);
  std::vector<uint64_t> all;
  for (const std::vector<uint64_t>& v : ids) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].id, all[i]);
    EXPECT_EQ(seen[i].id, i + 1);
  }
}

TEST_F(FileLogTest, PermissionsAreGroupReadable) {
  const mode_t old = umask(077);
  // Tiny segments: every append starts a new one.
  OpenLog(/*segment_bytes=*/16)->Append(Batch("k", "v"));
  OpenLog(16)->Append(Batch("k", "v"));
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    ASSERT_EQ(stat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 4);  // MANIFEST, LOCK and two segments.
}

TEST_F(FileLogTest, EveryManifestFlipIsCorruption) {
  // Two segments, so that the manifest has a list to damage.
  OpenLog(/*segment_bytes=*/16)->Append(Batch("k", "v"));
  const std::string path = dir_ + "/MANIFEST";
  const uint64_t size = FileSize(path);
  for (uint64_t offset = 0; offset < size; ++offset) {
    FlipByte(path, offset);
    try {
      log::FileLog::Open(dir_, {});
      ADD_FAILURE() << "opened a log whose manifest has a flip at " << offset;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      EXPECT_THAT(e.what(), HasSubstr(path));
    }
    FlipByte(path, offset);
  }
  TruncateFile(path, size - 1);
  try {
    log::FileLog::Open(dir_, {});
    ADD_FAILURE() << "opened a log with a truncated manifest";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
  }
}

// The manifest records how far compaction rewrote history; a version 1 manifest, which did not,
// reads as rewritten up to its active segment, the most a compaction can have touched.
TEST_F(FileLogTest, CompactedBelowIsRecordedAndOlderManifestsReadConservatively) {
  auto log = OpenLog(/*segment_bytes=*/16);
  for (int i = 0; i < 6; ++i) log->Append(Batch("k", std::to_string(i)));
  EXPECT_EQ(log->CompactedBelow(), 0u);
  CompactionOptions compact;
  compact.before_id = 4;
  EXPECT_EQ(log->Compact(compact).removed, 2u);
  EXPECT_EQ(log->CompactedBelow(), 4u);
  EXPECT_EQ(log::FileLog::Open(dir_, {})->CompactedBelow(), 4u);

  const log::Manifest current = log::ReadManifest(dir_);
  std::string v1 = log::EncodeManifest(current);
  // Version 1: no compacted-below id after the horizon (magic, version, generation, horizon).
  v1.erase(8 + 4 + 8 + 8, 8);
  v1[8] = 1;
  v1.resize(v1.size() - 4);
  const uint32_t crc = format::Crc32c(v1);
  for (int shift = 0; shift < 32; shift += 8) v1.push_back(static_cast<char>(crc >> shift));
  WriteFileBytes(dir_ + "/MANIFEST", v1);
  EXPECT_EQ(log::FileLog::Open(dir_, {})->CompactedBelow(), current.segments.back().first_id);
  EXPECT_EQ(log::FileLog::Open(dir_, {})->ReadAfter(0, 10).size(), 4u);
}

// A reader that read the log while it was empty keeps its place at update 0. When compaction then
// replaces the segments, a replay from 0 must read the compacted history, not start in a segment
// that no longer exists and continue in its replacement: that mix brought back a key whose set
// was in the old segment and whose delete the compaction dropped.
TEST_F(FileLogTest, AReplayFromZeroReadsTheSegmentsOfTheCurrentManifest) {
  auto reader = OpenLog();
  EXPECT_TRUE(reader->ReadAfter(0, 10).empty());
  OpenLog()->Append(Batch("k", "v"));
  // Later appends each start a segment, so that the set and its delete are in different ones.
  auto writer = OpenLog(/*segment_bytes=*/16);
  writer->Append(std::vector<Mutation>{Mutation::Delete("k")});
  writer->Append(Batch("other", "x"));
  CompactionOptions compact;
  compact.tombstone_retention = std::chrono::seconds(0);
  ASSERT_GE(writer->Compact(compact).horizon, 2u);

  std::map<std::string, std::string> state;
  for (const Update& update : ReadAll(*reader)) {
    for (const Mutation& m : update.mutations) {
      if (m.op == Mutation::Op::kDelete) {
        state.erase(m.key);
      } else {
        state[m.key] = m.value;
      }
    }
  }
  EXPECT_EQ(state, (std::map<std::string, std::string>{{"other", "x"}}));
}

TEST(OpenChangeLogTest, Uris) {
  TempDir temp;
  auto code_of = [](const std::string& uri, const LogOptions& options = {}) {
    try {
      OpenChangeLog(uri, options);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(uri.empty() ? "''" : uri));
      return std::optional<Error::Code>(e.code());
    }
    return std::optional<Error::Code>();
  };
  EXPECT_EQ(code_of("file:" + temp.File("missing")), Error::Code::kUnavailable);
  EXPECT_EQ(code_of("file:"), Error::Code::kInvalidArgument);
  EXPECT_EQ(code_of("file://otherhost/x"), Error::Code::kInvalidArgument);
  EXPECT_EQ(code_of("mysql:/no-authority"), Error::Code::kInvalidArgument);
  EXPECT_EQ(code_of("/just/a/path"), Error::Code::kInvalidArgument);
  EXPECT_EQ(code_of(""), Error::Code::kInvalidArgument);

  LogOptions create;
  create.create_if_missing = true;
  auto log = OpenChangeLog("file://" + temp.File("a"), create);
  EXPECT_EQ(log->Describe(), "file:" + temp.File("a"));
  const uint64_t id = log->Append(Batch("k", "v"));
  EXPECT_EQ(OpenChangeLog("file:" + temp.File("a") + "/")->HeadId(), id);

  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(temp.path());
  auto relative = OpenChangeLog("file:rel", create);
  std::filesystem::current_path(cwd);
  EXPECT_EQ(relative->Describe(), "file:" + temp.File("rel"));
  relative->Append(Batch("k", "v"));
  EXPECT_EQ(OpenChangeLog("file:" + temp.File("rel"))->HeadId(), 1u);
}

}  // namespace
}  // namespace whycache::testing
