#include "lib/cache/machine_read_stats.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <utility>

#include "lib/io/posix_file.h"
#include "lib/tree/liveness_lock.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::cache {
namespace {

constexpr uint64_t kMagic = 0x5441545352594857;  // "WHYRSTAT" little-endian.
constexpr uint32_t kVersion = 1;
constexpr size_t kPage = 4096;

// Fields other processes change are accessed through std::atomic_ref; the rest is written once,
// before the file is linked into place.
struct Header {
  uint64_t magic;
  uint32_t version;
  uint32_t slots;
  uint32_t names;
  uint32_t max_name_bytes;
  uint32_t names_used;  // Names [0, names_used) are complete and never change.
};

struct Name {
  uint32_t length;
  char bytes[kMaxKeyBytes];
};

struct Counts {
  uint64_t hits;
  uint64_t misses;
};

constexpr size_t RoundUp(size_t n) { return (n + kPage - 1) / kPage * kPage; }
constexpr size_t kNamesOffset = kPage;
constexpr size_t kTokensOffset = RoundUp(kNamesOffset + kReadStatsNames * sizeof(Name));
constexpr size_t kSlotsOffset = RoundUp(kTokensOffset + kReadStatsSlots * sizeof(uint32_t));
// Tokens apart from the counts, so that finding the used slots touches only their pages.
constexpr size_t kFileBytes =
    kSlotsOffset + size_t{kReadStatsSlots} * kReadStatsNames * sizeof(Counts);

template <typename T>
std::atomic_ref<T> Shared(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field));
}

// The file mapped at `base`.
struct Layout {
  unsigned char* base;

  Header& header() const { return *reinterpret_cast<Header*>(base); }
  Name& name(uint32_t n) const { return reinterpret_cast<Name*>(base + kNamesOffset)[n]; }
  uint32_t& token(uint32_t slot) const {
    return reinterpret_cast<uint32_t*>(base + kTokensOffset)[slot];
  }
  Counts& counts(uint32_t slot, uint32_t name) const {
    return reinterpret_cast<Counts*>(base + kSlotsOffset)[size_t{slot} * kReadStatsNames + name];
  }
};

// A mapping of the whole file, unmapped on destruction.
class Mapping {
 public:
  Mapping(const io::File& file, bool writable) {
    void* p = mmap(nullptr, kFileBytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                   file.fd(), 0);
    if (p == MAP_FAILED) {
      throw Error(Error::Code::kIOError,
                  "cannot map read-stats file " + file.path() + ": " + std::strerror(errno));
    }
    base_ = static_cast<unsigned char*>(p);
  }
  ~Mapping() { munmap(base_, kFileBytes); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  Layout layout() const { return {base_}; }

 private:
  unsigned char* base_;
};

std::string NameProblem(uint32_t n, uint32_t length) {
  if (length != 0 && length <= kMaxKeyBytes) return "";
  return "prefix " + std::to_string(n) + " has a length of " + std::to_string(length) +
         " (damaged)";
}

// What makes `file` unusable, "" if nothing; *other_version is set for an intact file of another
// format version.
std::string ProblemOf(const io::File& file, bool* other_version) {
  *other_version = false;
  const uint64_t size = file.Size();
  Header h;
  if (size < sizeof h || file.ReadAt(0, reinterpret_cast<char*>(&h), sizeof h) != sizeof h) {
    return "it is too short to be a read-stats file (" + std::to_string(size) + " bytes)";
  }
  if (h.magic != kMagic) return "it is not a read-stats file (wrong magic number)";
  if (h.version != kVersion) {
    *other_version = true;
    return "it is of format version " + std::to_string(h.version) + ", not " +
           std::to_string(kVersion);
  }
  if (h.slots != kReadStatsSlots || h.names != kReadStatsNames ||
      h.max_name_bytes != kMaxKeyBytes || size != kFileBytes) {
    return "its header does not match its format (damaged)";
  }
  if (h.names_used > kReadStatsNames) return "it names more prefixes than fit (damaged)";
  for (uint32_t n = 0; n < h.names_used; ++n) {
    uint32_t length = 0;
    file.ReadAt(kNamesOffset + n * sizeof(Name), reinterpret_cast<char*>(&length), sizeof length);
    if (const std::string problem = NameProblem(n, length); !problem.empty()) return problem;
  }
  return "";
}

// Makes a new file at `path` unless there is one: written whole under a name of its own, then
// linked into place, so that no process ever sees it half made.
void CreateFile(const std::string& path) {
  std::random_device random;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".new-%08x%08x", random(), random());
  const std::string temp = path + suffix;
  {
    io::File file = io::File::Open(temp, O_RDWR | O_CREAT | O_EXCL);
    try {
      file.Truncate(kFileBytes);
      const Header h{.magic = kMagic,
                     .version = kVersion,
                     .slots = kReadStatsSlots,
                     .names = kReadStatsNames,
                     .max_name_bytes = kMaxKeyBytes,
                     .names_used = 0};
      const std::string_view bytes(reinterpret_cast<const char*>(&h), sizeof h);
      file.WriteAt(0, std::span(&bytes, 1));
    } catch (...) {
      io::RemoveFile(temp);
      throw;
    }
  }
  const int linked = ::link(temp.c_str(), path.c_str());
  const int error = errno;
  io::RemoveFile(temp);
  if (linked != 0 && error != EEXIST) {
    throw Error(Error::Code::kIOError,
                "cannot create read-stats file " + path + ": " + std::strerror(error));
  }
}

// Moves the unusable file `file` (opened at `path`) to PATH.bad, unless another process did so
// first: processes that found it at once each lock it, and only the one that still finds it at
// `path` moves it.
void MoveAside(const io::File& file, const std::string& path, const std::string& problem) {
  io::LockGuard lock(file);
  struct stat ours, now;
  if (fstat(file.fd(), &ours) != 0 || ::stat(path.c_str(), &now) != 0 ||
      ours.st_ino != now.st_ino || ours.st_dev != now.st_dev) {
    return;
  }
  std::fprintf(stderr, "whycache: read-stats file %s: %s; moving it to %s.bad and making it anew\n",
               path.c_str(), problem.c_str(), path.c_str());
  if (::rename(path.c_str(), (path + ".bad").c_str()) != 0) {
    throw Error(Error::Code::kIOError, "cannot move the unusable read-stats file " + path +
                                           " aside: " + std::strerror(errno));
  }
}

// Opens the file at `path` for writing, making it when missing and replacing it when unusable.
io::File OpenUsable(const std::string& path) {
  // Each round either opens a usable file or replaces one; other processes replace a file at
  // most as often as it is found unusable, which a new file is not.
  for (int round = 0; round < 4; ++round) {
    const int fd = io::OpenDescriptor(path, O_RDWR);
    if (fd < 0) {
      if (errno != ENOENT) {
        throw Error(Error::Code::kIOError,
                    "cannot open read-stats file " + path + ": " + std::strerror(errno));
      }
      CreateFile(path);
      continue;
    }
    io::File file(fd, path);
    bool other_version;
    const std::string problem = ProblemOf(file, &other_version);
    if (problem.empty()) return file;
    MoveAside(file, path, problem);
  }
  throw Error(Error::Code::kIOError, "cannot open read-stats file " + path +
                                         ": other processes kept replacing it meanwhile");
}

// The figures of the file mapped at `f`, per name in the file's order.
std::vector<MachinePrefixTotals> SumOf(const Layout& f, const std::string& path) {
  const uint32_t used = Shared(f.header().names_used).load(std::memory_order_acquire);
  if (used > kReadStatsNames) {
    throw Error(Error::Code::kCorruption,
                "read-stats file " + path + ": it names more prefixes than fit (damaged)");
  }
  std::vector<MachinePrefixTotals> sums(used);
  for (uint32_t n = 0; n < used; ++n) {
    const Name& name = f.name(n);
    const uint32_t length = name.length;
    if (const std::string problem = NameProblem(n, length); !problem.empty()) {
      throw Error(Error::Code::kCorruption, "read-stats file " + path + ": " + problem);
    }
    sums[n].prefix.assign(name.bytes, length);
  }
  for (uint32_t s = 0; s < kReadStatsSlots; ++s) {
    if (Shared(f.token(s)).load(std::memory_order_acquire) == 0) continue;
    for (uint32_t n = 0; n < used; ++n) {
      const Counts& c = f.counts(s, n);
      sums[n].hits += Shared(c.hits).load(std::memory_order_relaxed);
      sums[n].misses += Shared(c.misses).load(std::memory_order_relaxed);
    }
  }
  return sums;
}

const PrefixTotals* Find(const ReadTotals& totals, const std::string& prefix) {
  for (const PrefixTotals& p : totals.prefixes) {
    if (p.prefix == prefix) return &p;
  }
  return nullptr;
}

// The figures of `first` in that order, then those of the other prefixes of `machine`.
std::vector<PrefixReadStats> Combine(const std::vector<std::string>& first,
                                     const ReadTotals& process,
                                     const std::vector<MachinePrefixTotals>& machine) {
  std::vector<PrefixReadStats> out;
  const auto add = [&](const std::string& prefix, const MachinePrefixTotals* m) {
    PrefixReadStats& s = out.emplace_back(PrefixReadStats{.prefix = prefix});
    if (const PrefixTotals* p = Find(process, prefix)) {
      s.process_hits = p->hits;
      s.process_misses = p->misses;
    }
    if (m != nullptr) {
      s.machine_hits = m->hits;
      s.machine_misses = m->misses;
    }
  };
  for (const std::string& prefix : first) {
    auto m = std::find_if(machine.begin(), machine.end(),
                          [&](const MachinePrefixTotals& t) { return t.prefix == prefix; });
    add(prefix, m == machine.end() ? nullptr : &*m);
  }
  for (const MachinePrefixTotals& m : machine) {
    if (std::find(first.begin(), first.end(), m.prefix) == first.end()) add(m.prefix, &m);
  }
  return out;
}

}  // namespace

std::string ReadStatsPath(const std::string& state_path) { return state_path + ".read-stats"; }

// This process's view of one read-stats file: its slot and the names of its prefixes there.
class ReadStatsFile {
 public:
  // The process's one object for the read-stats file at `path` (by inode, so that two paths of
  // one file share a slot). Objects live as long as the process: the slot stays its own.
  static ReadStatsFile* ForPath(const std::string& path) {
    static std::mutex mu;
    static auto* files = new std::map<std::pair<dev_t, ino_t>, ReadStatsFile*>;
    std::lock_guard lock(mu);
    io::File file = OpenUsable(path);
    struct stat st;
    if (fstat(file.fd(), &st) != 0) {
      throw Error(Error::Code::kIOError,
                  "cannot stat read-stats file " + path + ": " + std::strerror(errno));
    }
    ReadStatsFile*& f = (*files)[{st.st_dev, st.st_ino}];
    if (f == nullptr) f = new ReadStatsFile(std::move(file));
    return f;
  }

  // Gives the process's prefix of each index its name in the file, adding the names the file
  // lacks. Throws Error(kInvalidArgument) when they do not fit.
  void Register(const std::vector<std::string>& prefixes, const std::vector<uint32_t>& indexes) {
    std::lock_guard lock(mu_);
    // Appenders exclude each other with an flock of a description of their own: a forked child
    // shares its parent's.
    io::File again = io::File::Open(file_.path(), O_RDONLY);
    io::LockGuard appending(again);
    struct stat ours, locked;
    if (fstat(file_.fd(), &ours) != 0 || fstat(again.fd(), &locked) != 0 ||
        ours.st_ino != locked.st_ino || ours.st_dev != locked.st_dev) {
      throw Error(Error::Code::kIOError, "read-stats file " + file_.path() +
                                             " was replaced while this process used it; open "
                                             "the Cache again");
    }
    const Layout f = map_.layout();
    std::vector<std::string> names;
    for (MachinePrefixTotals& named : SumOf(f, file_.path())) names.push_back(named.prefix);
    for (size_t i = 0; i < prefixes.size(); ++i) {
      const std::string& p = prefixes[i];
      const auto n =
          static_cast<uint32_t>(std::find(names.begin(), names.end(), p) - names.begin());
      if (n == names.size()) {
        if (n == kReadStatsNames) {
          throw Error(Error::Code::kInvalidArgument,
                      "CacheOptions::stat_prefixes: read-stats file " + file_.path() +
                          " already counts " + std::to_string(kReadStatsNames) +
                          " prefixes, all it has room for; remove it to start the machine's "
                          "per-prefix figures anew");
        }
        f.name(n).length = static_cast<uint32_t>(p.size());
        std::memcpy(f.name(n).bytes, p.data(), p.size());
        names.push_back(p);
        Shared(f.header().names_used).store(n + 1, std::memory_order_release);
      }
      name_of_[indexes[i]] = static_cast<int32_t>(n);
    }
  }

  // Publishes this process's sums, claiming a slot first when it has none (a forked child
  // inherits its parent's, not its token). Returns the sums published.
  ReadTotals Publish() {
    std::lock_guard lock(mu_);
    return PublishLocked();
  }

  // Publish(), unless another thread of the process is publishing.
  void TryPublish() {
    std::unique_lock lock(mu_, std::try_to_lock);
    if (lock.owns_lock()) PublishLocked();
  }

  std::vector<MachinePrefixTotals> Read() const { return SumOf(map_.layout(), file_.path()); }

 private:
  explicit ReadStatsFile(io::File file) : file_(std::move(file)), map_(file_, /*writable=*/true) {
    name_of_.fill(-1);
  }

  // REQUIRES: mu_ held.
  ReadTotals PublishLocked() {
    if (slot_ < 0 || liveness_.token() == 0) ClaimSlot();
    const ReadTotals totals = SumReadCounters();
    const Layout f = map_.layout();
    for (size_t i = 0; i < totals.prefixes.size(); ++i) {
      if (name_of_[i] < 0) continue;
      const auto n = static_cast<uint32_t>(name_of_[i]);
      Counts& c = f.counts(static_cast<uint32_t>(slot_), n);
      Shared(c.hits).store(base_[n].hits + totals.prefixes[i].hits, std::memory_order_relaxed);
      Shared(c.misses).store(base_[n].misses + totals.prefixes[i].misses,
                             std::memory_order_relaxed);
    }
    return totals;
  }

  // Takes a free slot, or one whose owner died (its counts become this process's base). A slot
  // holding this process's own new token belonged to a process that died: the token was free.
  // REQUIRES: mu_ held.
  void ClaimSlot() {
    const uint32_t token = liveness_.Acquire(file_.fd(), file_.path());
    const Layout f = map_.layout();
    for (uint32_t s = 0; s < kReadStatsSlots; ++s) {
      std::atomic_ref<uint32_t> owner = Shared(f.token(s));
      uint32_t seen = owner.load(std::memory_order_acquire);
      if (seen != 0 && seen != token && tree::TokenAlive(file_.fd(), seen)) continue;
      if (!owner.compare_exchange_strong(seen, token, std::memory_order_acq_rel)) continue;
      slot_ = s;
      for (uint32_t n = 0; n < kReadStatsNames; ++n) {
        base_[n] = {Shared(f.counts(s, n).hits).load(std::memory_order_relaxed),
                    Shared(f.counts(s, n).misses).load(std::memory_order_relaxed)};
      }
      return;
    }
    throw Error(Error::Code::kBusy, "read-stats file " + file_.path() + ": all " +
                                        std::to_string(kReadStatsSlots) +
                                        " slots are held by live processes");
  }

  std::mutex mu_;
  const io::File file_;
  const Mapping map_;
  tree::LivenessLock liveness_;  // The token that says the slot is this process's.
  int64_t slot_ = -1;
  std::array<int32_t, kMaxProcessStatPrefixes> name_of_;  // By prefix index; -1: not here.
  std::array<Counts, kReadStatsNames> base_{};            // What the slot held when it was claimed.
};

std::vector<MachinePrefixTotals> ReadMachineReadStats(const std::string& state_path) {
  const std::string path = ReadStatsPath(state_path);
  const int fd = io::OpenDescriptor(path, O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw Error(Error::Code::kIOError,
                "cannot open read-stats file " + path + ": " + std::strerror(errno));
  }
  const io::File file(fd, path);
  bool other_version;
  if (const std::string problem = ProblemOf(file, &other_version); !problem.empty()) {
    throw Error(other_version ? Error::Code::kIncompatible : Error::Code::kCorruption,
                "read-stats file " + path + ": " + problem +
                    "; the next Cache opened with stat_prefixes makes it anew");
  }
  const Mapping map(file, /*writable=*/false);
  return SumOf(map.layout(), path);
}

CacheReadStats::CacheReadStats(const std::string& state_path,
                               const std::vector<std::string>& prefixes,
                               std::chrono::nanoseconds publish_interval)
    : counted_(prefixes),
      file_(ReadStatsFile::ForPath(ReadStatsPath(state_path))),
      prefixes_(prefixes),
      publish_interval_ns_(publish_interval.count()) {
  file_->Register(prefixes_, counted_.indexes());
  file_->Publish();
}

CacheReadStats::~CacheReadStats() {
  try {
    file_->Publish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "whycache: the last read counts of this process were not published: %s\n",
                 e.what());
  }
}

void CacheReadStats::PublishFromUpdate() noexcept {
  try {
    file_->TryPublish();
  } catch (const std::exception& e) {
    std::call_once(reported_, [&] {
      std::fprintf(stderr, "whycache: cannot publish this process's read counts: %s\n", e.what());
    });
  }
}

std::vector<PrefixReadStats> CacheReadStats::Figures() {
  const ReadTotals process = file_->Publish();
  return Combine(prefixes_, process, file_->Read());
}

std::vector<PrefixReadStats> PrefixFiguresOfMachine(const std::string& state_path) {
  const ReadTotals process = SumReadCounters();
  return Combine({}, process, ReadMachineReadStats(state_path));
}

}  // namespace whycache::cache
