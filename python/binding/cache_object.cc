#include "python/binding/cache_object.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "python/binding/bytes_arg.h"
#include "python/binding/errors.h"
#include "python/binding/read_object.h"
#include "python/binding/subscribers.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace py = pybind11;

namespace whycache::python {
namespace {

// What a Python Cache object holds. Calls that release the GIL must keep the cache alive while
// close() may run on another thread: most take their own reference; update(), which must cost
// next to nothing, counts itself in `updates_in_flight` instead (changed only with the GIL held,
// so a plain integer), and close() leaves the cache to the last of them. Read transactions keep
// a reference too, since the state must outlive their pins.
struct CacheHandle {
  std::shared_ptr<Cache> cache;
  int updates_in_flight = 0;
  std::shared_ptr<Cache> closing;  // Closed while updates were in flight.
  Subscribers subscribers;

  // For calls that hold the GIL throughout.
  Cache& Use() const {
    if (cache == nullptr) throw py::value_error("whycache.Cache is closed");
    return *cache;
  }
  // For calls that release the GIL.
  std::shared_ptr<Cache> Share() const {
    Use();
    return cache;
  }
};

// The handle of a Cache instance, or nullptr before __init__ made it (or when it failed).
CacheHandle* ConstructedHandle(PyObject* self) {
  py::detail::value_and_holder v_h =
      reinterpret_cast<py::detail::instance*>(self)->get_value_and_holder();
  return v_h.holder_constructed() ? v_h.value_ptr<CacheHandle>() : nullptr;
}

// The handle of an open Cache instance, or nullptr with an exception set. For methods written
// against the C API: the method descriptor has checked that `self` is a Cache.
CacheHandle* HandleOf(PyObject* self) {
  CacheHandle* h = ConstructedHandle(self);
  if (h == nullptr || h->cache == nullptr) {
    PyErr_SetString(PyExc_ValueError, "whycache.Cache is closed");
    return nullptr;
  }
  return h;
}

// cache.get(key, default=None): one read transaction, a bytes copy. Written against the C API:
// pybind11's argument dispatch would cost more than the read.
PyObject* CacheGet(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "get(key, default=None) takes 1 or 2 arguments");
    return nullptr;
  }
  CacheHandle* h = HandleOf(self);
  if (h == nullptr) return nullptr;
  BytesArg key;
  if (!key.Load(args[0], "key")) return nullptr;
  return Guarded([&]() -> PyObject* {
    ReadTransaction txn = h->cache->BeginRead();
    if (std::optional<std::string_view> v = txn.Get(key.view())) {
      return PyBytes_FromStringAndSize(v->data(), static_cast<Py_ssize_t>(v->size()));
    }
    PyObject* fallback = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(fallback);
    return fallback;
  });
}

// cache.update(): the per-request call. Returns at once when no poll is due; the GIL is released
// because a due poll reads the log and applies.
PyObject* CacheUpdate(PyObject* self, PyObject*) {
  CacheHandle* h = HandleOf(self);
  if (h == nullptr) return nullptr;
  Cache* cache = h->cache.get();
  ++h->updates_in_flight;
  PyThreadState* saved = PyEval_SaveThread();
  cache->Update();
  PyEval_RestoreThread(saved);
  if (--h->updates_in_flight == 0 && h->closing != nullptr) {
    std::shared_ptr<Cache> last = std::move(h->closing);
    py::gil_scoped_release release;
    last.reset();
  }
  Py_RETURN_NONE;
}

// The type of whycache.ERASE_PREFIX, the value that makes a pair of write() a prefix delete. It
// has no constructor in Python, so that object is its only instance.
struct ErasePrefixMarker {};

std::vector<Mutation> MixedBatch(py::handle ops) {
  py::object items =
      py::hasattr(ops, "items") ? ops.attr("items")() : py::reinterpret_borrow<py::object>(ops);
  std::vector<Mutation> batch;
  for (py::handle item : items) {
    py::tuple pair = py::reinterpret_borrow<py::object>(item);
    if (pair.size() != 2) {
      throw py::value_error(
          "write() takes (key, value) pairs; a value of None deletes the key, "
          "whycache.ERASE_PREFIX every key that starts with it");
    }
    py::handle value = pair[1];
    if (value.is_none()) {
      batch.push_back(Mutation::Delete(CopyBytes(pair[0].ptr(), "key")));
    } else if (py::isinstance<ErasePrefixMarker>(value)) {
      batch.push_back(Mutation::ErasePrefix(CopyBytes(pair[0].ptr(), "prefix")));
    } else {
      batch.push_back(
          Mutation::Set(CopyBytes(pair[0].ptr(), "key"), CopyBytes(value.ptr(), "value")));
    }
  }
  return batch;
}

py::dict StatsDict(const CacheStats& s) {
  py::dict d;
  d["keys"] = s.keys;
  d["applied_id"] = s.applied_id;
  d["log_head_id"] = s.log_head_id;
  d["ids_behind"] = s.ids_behind;
  d["lag_us"] = s.lag_us;
  d["bytes_used"] = s.bytes_used;
  d["file_bytes"] = s.file_bytes;
  d["oldest_pinned_version"] = s.oldest_pinned_version;
  d["oldest_pin_age_us"] = s.oldest_pin_age_us;
  d["reader_slots_in_use"] = s.reader_slots_in_use;
  d["read_barrier"] = s.read_barrier;
  d["prefixes_error"] = s.prefixes_error;
  d["reader_slots"] = s.reader_slots;
  d["polls"] = s.polls;
  d["poll_errors"] = s.poll_errors;
  d["batches_applied"] = s.batches_applied;
  d["mutations_applied"] = s.mutations_applied;
  d["apply_us"] = s.apply_us;
  d["resyncs"] = s.resyncs;
  d["reads"] = s.reads;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["resync_snapshot_unused"] = s.resync_snapshot_unused;
  d["last_error"] = s.last_error;
  py::list prefixes;
  for (const PrefixReadStats& p : s.prefixes) {
    py::dict figures;
    figures["prefix"] = py::bytes(p.prefix);
    figures["process_hits"] = p.process_hits;
    figures["process_misses"] = p.process_misses;
    figures["machine_hits"] = p.machine_hits;
    figures["machine_misses"] = p.machine_misses;
    prefixes.append(figures);
  }
  d["prefixes"] = prefixes;
  return d;
}

py::dict SnapshotDict(const SnapshotInfo& i) {
  py::dict d;
  d["format_version"] = i.format_version;
  d["dataset_id"] = py::bytes(i.dataset_id);
  d["applied_id"] = i.applied_id;
  d["horizon"] = i.horizon;
  d["key_count"] = i.key_count;
  d["raw_bytes"] = i.raw_bytes;
  d["file_bytes"] = i.file_bytes;
  return d;
}

py::dict CompactionDict(const CompactionResult& r) {
  py::dict d;
  d["removed"] = r.removed;
  d["kept"] = r.kept;
  d["bytes_before"] = r.bytes_before;
  d["bytes_after"] = r.bytes_after;
  d["horizon"] = r.horizon;
  return d;
}

FsyncPolicy ParseFsync(const std::string& name) {
  if (name == "every_append") return FsyncPolicy::kEveryAppend;
  if (name == "never") return FsyncPolicy::kNever;
  throw py::value_error("fsync must be 'every_append' or 'never', not '" + name + "'");
}

// Drops the handle's reference and its subscribers' callables; the cache is destroyed, outside
// the GIL, unless a read transaction or a call on another thread still holds it.
void Close(CacheHandle& h) {
  EndDeferredReads();
  h.subscribers.Clear();
  if (h.cache == nullptr) return;  // Closed before: an update in flight may still hold `closing`.
  std::shared_ptr<Cache> last = std::move(h.cache);
  if (h.updates_in_flight > 0) {
    h.closing = std::move(last);
    return;
  }
  py::gil_scoped_release release;
  last.reset();
}

// Calls fn(cache) with the GIL released.
template <class Fn>
auto Released(const CacheHandle& h, Fn&& fn) {
  std::shared_ptr<Cache> cache = h.Share();
  py::gil_scoped_release release;
  return fn(*cache);
}

// The garbage collector's slots: a callback that refers to its Cache (a closure, a bound method)
// makes a cycle through the subscription, which the collector breaks by dropping the callables.
int CacheTraverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  CacheHandle* h = ConstructedHandle(self);
  return h == nullptr ? 0 : h->subscribers.Traverse(visit, arg);
}

int CacheClear(PyObject* self) {
  if (CacheHandle* h = ConstructedHandle(self)) h->subscribers.Clear();
  return 0;
}

// pybind11's deallocation does not untrack a collected object, and the collector must not visit
// one while it is taken apart.
void CacheDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  py::detail::pybind11_object_dealloc(self);
}

void SetUpCollection(PyHeapTypeObject* heap_type) {
  PyTypeObject* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = CacheTraverse;
  type->tp_clear = CacheClear;
  type->tp_dealloc = CacheDealloc;
}

void AddFastMethod(py::class_<CacheHandle>& cls, PyMethodDef* def) {
  PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def);
  if (descr == nullptr) throw py::error_already_set();
  cls.attr(def->ml_name) = py::reinterpret_steal<py::object>(descr);
}

PyMethodDef kGetDef = {
    "get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(CacheGet)), METH_FASTCALL,
    "get(key, default=None)\n--\n\nA copy (bytes) of the value of `key` in the current state, or "
    "`default`. One read transaction per call."};
PyMethodDef kUpdateDef = {
    "update", CacheUpdate, METH_NOARGS,
    "update()\n--\n\nThe per-request call: returns at once unless a poll is due; when one is, "
    "exactly one process of the machine polls the log and applies new updates. With "
    "subscriptions, it then calls their callbacks for what the machine applied, due or not (see "
    "subscribe()). Never raises: errors are recorded "
    "(stats()['last_error']) and retried while the last applied state keeps being served."};

}  // namespace

void RegisterCache(py::module_& m) {
  py::class_<ErasePrefixMarker>(m, "_ErasePrefixMarker",
                                "The type of whycache.ERASE_PREFIX (see Cache.write).")
      .def("__repr__", [](const ErasePrefixMarker&) { return "whycache.ERASE_PREFIX"; });
  m.attr("ERASE_PREFIX") = ErasePrefixMarker{};
  py::class_<CacheHandle> cls(m, "Cache", R"doc(
A dataset replicated onto this machine: reads come from a memory-mapped state file shared by
every process of the machine, writes go to the change log, and update() applies the log.

Keys and values are bytes (any bytes-like object is accepted; str is refused). A Cache may be
shared by the threads of a process, and keeps working in the children of a fork (file log; see
the README for the MySQL log).
)doc",
                              py::custom_type_setup(SetUpCollection));
  cls.def(py::init([](const std::string& state_path, const std::string& log_uri,
                      int64_t poll_interval_ms, size_t max_updates_per_poll,
                      const std::string& resync_snapshot, bool create_if_missing,
                      const std::string& fsync, int64_t reconnect_budget_ms,
                      py::iterable stat_prefixes) {
            CacheOptions o;
            o.state_path = state_path;
            o.log_uri = log_uri;
            o.poll_interval = std::chrono::milliseconds(poll_interval_ms);
            o.max_updates_per_poll = max_updates_per_poll;
            o.resync_snapshot = resync_snapshot;
            o.log_options.create_if_missing = create_if_missing;
            o.log_options.fsync = ParseFsync(fsync);
            o.log_options.reconnect_budget = std::chrono::milliseconds(reconnect_budget_ms);
            if (py::isinstance<py::bytes>(stat_prefixes) ||
                py::isinstance<py::bytearray>(stat_prefixes)) {
              throw py::type_error("stat_prefixes takes a list of prefixes, not one bytes object");
            }
            for (py::handle p : stat_prefixes) {
              o.stat_prefixes.push_back(CopyBytes(p.ptr(), "stat prefix"));
            }
            py::gil_scoped_release release;
            return CacheHandle{std::shared_ptr<Cache>(Cache::Open(o))};
          }),
          py::arg("state_path"), py::arg("log_uri"), py::kw_only(),
          py::arg("poll_interval_ms") = 50, py::arg("max_updates_per_poll") = 100'000,
          py::arg("resync_snapshot") = "", py::arg("create_if_missing") = false,
          py::arg("fsync") = "every_append", py::arg("reconnect_budget_ms") = 1000,
          py::arg("stat_prefixes") = py::tuple(),
          R"doc(Opens (creating when missing) the state file and connects to the log.

log_uri is "file:DIR" or "mysql://USER@HOST:PORT/DATABASE[?table=NAME]" (the password comes
from WHYCACHE_MYSQL_PASSWORD), or "" to read an existing state file alone. create_if_missing
creates the log's storage when it was never initialized. stat_prefixes (bytes-like) are key
prefixes whose reads this process and the machine count; stats()["prefixes"] shows them. Raises
InvalidArgument,
Incompatible (a state file of another dataset), Unavailable (no log and no state file),
IOError.)doc");
  AddFastMethod(cls, &kGetDef);
  AddFastMethod(cls, &kUpdateDef);
  cls.def(
      "__getitem__",
      [](const CacheHandle& h, py::handle key) -> py::bytes {
        BytesArg k;
        if (!k.Load(key.ptr(), "key")) throw py::error_already_set();
        ReadTransaction txn = h.Use().BeginRead();
        std::optional<std::string_view> v = txn.Get(k.view());
        if (!v) {
          PyErr_SetObject(PyExc_KeyError, key.ptr());
          throw py::error_already_set();
        }
        return py::bytes(v->data(), v->size());
      },
      "cache[key]: the value (bytes); KeyError when missing.");
  cls.def(
      "__contains__",
      [](const CacheHandle& h, py::handle key) {
        BytesArg k;
        if (!k.Load(key.ptr(), "key")) throw py::error_already_set();
        return h.Use().BeginRead().Get(k.view()).has_value();
      },
      "key in cache: whether the current state holds `key`.");
  cls.def(
      "__len__", [](const CacheHandle& h) { return h.Use().BeginRead().key_count(); },
      "The number of keys in the current state.");
  cls.def(
      "read",
      [](const CacheHandle& h) {
        PyObject* r = NewRead(h.Share());
        if (r == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(r);
      },
      R"doc(A read transaction, to use as `with cache.read() as r:`. r.get(key) returns a
memoryview into the shared mapping (no copy), r.scan(prefix) iterates (key, value) memoryviews in
byte order; all from one consistent version, and all released when the block ends.)doc");
  cls.def(
      "update_now",
      [](const CacheHandle& h) { return Released(h, [](Cache& c) { return c.UpdateNow(); }); },
      "Polls and applies now, waiting for another applying process instead of returning. "
      "Returns the applied id; raises the error that stopped applying.");
  cls.def(
      "wait_for",
      [](const CacheHandle& h, uint64_t id, double timeout_s) {
        const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
        return Released(h, [&](Cache& c) { return c.WaitFor(id, timeout); });
      },
      py::arg("id"), py::arg("timeout_s"),
      "Applies until update `id` is visible here (read-your-writes) or `timeout_s` seconds "
      "pass. Returns whether it is.");
  cls.def_property_readonly(
      "applied_id", [](const CacheHandle& h) { return h.Use().AppliedId(); },
      "The id of the newest update in the local state.");
  cls.def(
      "stats",
      [](const CacheHandle& h) {
        return StatsDict(Released(h, [](Cache& c) { return c.Stats(); }));
      },
      "Figures about the local state and the log as this machine last saw it, as a dict.");
  cls.def(
      "set",
      [](const CacheHandle& h, py::handle key, py::handle value) {
        std::string k = CopyBytes(key.ptr(), "key");
        std::string v = CopyBytes(value.ptr(), "value");
        return Released(h, [&](Cache& c) { return c.Set(k, v); });
      },
      py::arg("key"), py::arg("value"),
      "Appends one update setting `key` and returns its id. Visible here once applied "
      "(update(), wait_for()).");
  cls.def(
      "set_multi",
      [](const CacheHandle& h, py::dict mapping) {
        std::vector<std::pair<std::string, std::string>> entries;
        entries.reserve(mapping.size());
        for (auto [k, v] : mapping) {
          entries.emplace_back(CopyBytes(k.ptr(), "key"), CopyBytes(v.ptr(), "value"));
        }
        return Released(h, [&](Cache& c) { return c.SetMulti(entries); });
      },
      py::arg("mapping"), "Appends one atomic update setting every key of `mapping`; its id.");
  cls.def(
      "delete",
      [](const CacheHandle& h, py::handle key) {
        std::string k = CopyBytes(key.ptr(), "key");
        return Released(h, [&](Cache& c) { return c.Delete(k); });
      },
      py::arg("key"), "Appends one update deleting `key` (missing is fine); its id.");
  cls.def(
      "delete_multi",
      [](const CacheHandle& h, py::iterable keys) {
        std::vector<std::string> ks;
        for (py::handle k : keys) ks.push_back(CopyBytes(k.ptr(), "key"));
        return Released(h, [&](Cache& c) { return c.DeleteMulti(ks); });
      },
      py::arg("keys"), "Appends one atomic update deleting every key of `keys`; its id.");
  cls.def(
      "erase_prefix",
      [](const CacheHandle& h, py::handle prefix) {
        std::string p = CopyBytes(prefix.ptr(), "prefix");
        return Released(h, [&](Cache& c) { return c.ErasePrefix(p); });
      },
      py::arg("prefix"),
      "Appends one update deleting every key that starts with `prefix` (bytes-like; the key "
      "equal to it included) and returns its id. Every machine applies it in one step, however "
      "many keys it deletes. An empty prefix raises InvalidArgument.");
  cls.def(
      "write",
      [](const CacheHandle& h, py::handle ops) {
        std::vector<Mutation> batch = MixedBatch(ops);
        return Released(h, [&](Cache& c) { return c.Write(batch); });
      },
      py::arg("ops"),
      "Appends one atomic update of mixed changes and returns its id: `ops` is a sequence of "
      "(key, value) pairs, or a mapping, applied in order; a value of None deletes the key, a "
      "value of whycache.ERASE_PREFIX deletes every key that starts with it (the key equal to it "
      "included). write([(b\"s:\", whycache.ERASE_PREFIX), (b\"s:1\", b\"x\")]) leaves s:1 the "
      "only key under s:.");
  cls.def(
      "compact",
      [](const CacheHandle& h, uint64_t before_id, double tombstone_retention_s) {
        CompactionOptions o;
        o.before_id = before_id;
        o.tombstone_retention = std::chrono::seconds(static_cast<int64_t>(tombstone_retention_s));
        return CompactionDict(Released(h, [&](Cache& c) { return c.Compact(o); }));
      },
      py::kw_only(), py::arg("before_id") = 0, py::arg("tombstone_retention_s") = 7 * 86400.0,
      "Compacts the log's history below `before_id` (0: all of it): keeps each key's newest "
      "entry, drops deletes older than the retention. Returns a dict of the result.");
  cls.def(
      "create_snapshot",
      [](const CacheHandle& h, const std::string& path) {
        return SnapshotDict(Released(h, [&](Cache& c) { return c.CreateSnapshot(path); }));
      },
      py::arg("path"),
      "Writes a snapshot of the local state to `path` (complete or absent, never partial). "
      "Returns a dict describing it.");
  cls.def(
      "restore_snapshot",
      [](const CacheHandle& h, const std::string& path) {
        return SnapshotDict(Released(h, [&](Cache& c) { return c.RestoreSnapshot(path); }));
      },
      py::arg("path"),
      "Replaces the local state with the snapshot at `path`; update() then catches up from "
      "its id. Returns a dict describing it.");
  cls.def(
      "verify", [](const CacheHandle& h) { Released(h, [](Cache& c) { c.Verify(); }); },
      "Checks every structural invariant of the local state; raises Corruption.");
  cls.def(
      "check_against_log",
      [](const CacheHandle& h) {
        return Released(h, [](Cache& c) { return c.CheckAgainstLog(); });
      },
      "Compares the local state with the log replayed to the same id: '' when equal, else the "
      "first difference.");
  cls.def(
      "subscribe",
      [](CacheHandle& h, py::handle prefix, py::object callback) {
        std::string p = CopyBytes(prefix.ptr(), "prefix");
        if (!PyCallable_Check(callback.ptr())) {
          throw py::type_error(std::string("subscribe() takes a callable, not ") +
                               Py_TYPE(callback.ptr())->tp_name);
        }
        auto subscriber = std::make_shared<Subscriber>(std::move(callback));
        // Without the GIL: a delivery on another thread, which Subscribe may wait for, may be
        // waiting for the GIL inside a callback.
        const uint64_t id = Released(h, [&](Cache& c) {
          return c.Subscribe(std::move(p), Subscriber::Callback(subscriber));
        });
        h.subscribers.Keep(id, std::move(subscriber));
        // Closed by another thread meanwhile: the subscription ends with the cache.
        if (h.cache == nullptr) h.subscribers.Clear();
        return id;
      },
      py::arg("prefix"), py::arg("callback"),
      R"doc(Calls callback(notice) when updates that changed keys under `prefix` were applied.

`notice` is a whycache.ChangeNotice; `prefix` is bytes-like (b"" for every key). The callback is
called each time updates that changed keys under the prefix have been applied on this machine,
whichever process of the machine applied them. The calls come in this process, inside its next
update(), update_now(), wait_for() or restore_snapshot(), on the thread that makes that call,
one thread at a time (while one delivers, the others' calls do not wait for it). Only changes
applied after subscribe() returns are notified: subscribe first, then read what you derive from
the prefix.

notice.keys lists the keys under the prefix that were set or deleted (sorted, each once) and
notice.erased_prefixes the prefix deletes that reached under it (in the order applied); the
values are read from the cache. notice.reload is True when the machine cannot list what changed
(more than MAX_NOTICE_KEYS keys, a rebuilt or restored state, or this process called none of
those methods for so long that the machine's journal of changes moved on): read the whole prefix
again.

The callback runs with the GIL held; it may read the cache, subscribe and unsubscribe. An
exception it raises is passed to sys.unraisablehook (which prints it to stderr by default),
because update() never raises and the call that delivers may be another thread's; the update and
the other subscriptions go on as usual. The cache holds `callback` until unsubscribe() or
close(); a callback that refers to the cache does not keep it alive once nothing else does (the
garbage collector takes both). Returns the subscription's id. Raises TypeError for a str prefix
or a callback that is not callable, IOError when the machine's change journal (next to the state
file) cannot be opened.)doc");
  cls.def(
      "unsubscribe",
      [](CacheHandle& h, uint64_t id) {
        // First, so that no call begins afterwards, not even one already waiting for the GIL.
        h.subscribers.Drop(id);
        // Without the GIL: Unsubscribe waits for a call in progress on another thread.
        Released(h, [id](Cache& c) { c.Unsubscribe(id); });
      },
      py::arg("id"),
      "Ends a subscription and drops the cache's reference to its callback. Once it returns, "
      "the callback is not called again, and a call of it in progress on another thread has "
      "returned (unless unsubscribe() is called from within the callback). An unknown id is "
      "ignored.");
  cls.def(
      "close", [](CacheHandle& h) { Close(h); },
      "Closes the cache (idempotent) and ends its subscriptions: no call of their callbacks "
      "begins once it returns. Read transactions still open keep the state mapped until they "
      "end.");
  cls.def(
      "__enter__", [](py::object self) { return self; },
      "`with whycache.Cache(...) as cache:` closes the cache when the block ends.");
  cls.def(
      "__exit__",
      [](CacheHandle& h, py::args) {
        Close(h);
        return false;
      },
      "Closes the cache.");
  m.def(
      "verify_snapshot",
      [](const std::string& path) {
        SnapshotInfo info;
        {
          py::gil_scoped_release release;
          info = VerifySnapshot(path);
        }
        return SnapshotDict(info);
      },
      py::arg("path"),
      "Reads a snapshot file whole and checks it without changing anything; returns a dict "
      "describing it or raises Corruption.");
}

}  // namespace whycache::python
