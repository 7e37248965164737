// Cache::BeginRead when the tree's read transaction cannot begin: the error reaches the caller
// and nothing half-made is destroyed.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/tree/file_layout.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

// Maps the header of the state file at `path` for the test to damage and repair.
class HeaderMapping {
 public:
  explicit HeaderMapping(const std::string& path) {
    const int fd = open(path.c_str(), O_RDWR);
    if (fd < 0) throw std::runtime_error("cannot open " + path);
    void* p = mmap(nullptr, tree::kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path);
    header_ = static_cast<tree::FileHeader*>(p);
  }
  ~HeaderMapping() { munmap(header_, tree::kPageBytes); }
  // The version field of the published meta record.
  std::atomic<uint64_t>& PublishedVersion() {
    const uint64_t cur = header_->current.load() & ~tree::kSupersededBit;
    return header_->meta[cur & 1].version;
  }

 private:
  tree::FileHeader* header_;
};

TEST(ReadTransactionTest, BeginReadThatThrowsLeavesNothingToDestroy) {
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "file:" + dir.File("log");
  options.log_options.create_if_missing = true;
  // A child, so that destroying garbage on the way out shows as a crash of the child rather than
  // of the test.
  ChildProcess child([&] {
    auto cache = Cache::Open(options);
    cache->WaitFor(cache->Set("k", "v"), std::chrono::seconds(60));
    HeaderMapping header(options.state_path);
    const uint64_t good = header.PublishedVersion().load();
    header.PublishedVersion().store(good + 7);
    // A thread checks a version's meta record at its first read transaction of that version
    // (later ones reuse what it checked): this one begins on a thread that has not read yet.
    int result = 0;
    std::thread([&] {
      // The transaction is built in place here (guaranteed copy elision); what it would find on
      // a failed begin is this pattern, not zeros.
      alignas(ReadTransaction) unsigned char storage[sizeof(ReadTransaction)];
      std::memset(storage, 0x5a, sizeof(storage));
      try {
        new (storage) ReadTransaction(cache->BeginRead());
        std::fprintf(stderr, "BeginRead read a damaged meta record without an error\n");
        result = 2;
      } catch (const Error& e) {
        if (e.code() != Error::Code::kCorruption) {
          std::fprintf(stderr, "BeginRead threw %s, expected kCorruption\n", e.what());
          result = 3;
        }
      }
    }).join();
    if (result != 0) return result;
    header.PublishedVersion().store(good);
    ReadTransaction txn = cache->BeginRead();
    if (txn.Get("k") != "v") return 4;
    return 0;
  });
  const int status = child.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::testing
