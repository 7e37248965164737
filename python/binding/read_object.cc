#include "python/binding/read_object.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "python/binding/bytes_arg.h"
#include "python/binding/errors.h"

namespace whycache::python {
namespace {

// Scans hand out entries in chunks of this many, each chunk one visit of the tree from the
// entry after the last one: bounded memory however large the prefix.
constexpr size_t kScanChunk = 256;

// Bumped in a forked child: read transactions of the parent are not the child's.
std::atomic<uint64_t> g_fork_generation{0};
std::atomic<uint64_t> g_next_thread_id{1};

enum class ReadState { kNotBegun, kOpen, kEnded };

struct ReadObject {
  PyObject_HEAD std::shared_ptr<Cache> cache;
  // Heap-allocated so that a transaction that must not be ended here (it belongs to the parent
  // of a fork, or to another thread) can be abandoned instead.
  ReadTransaction* txn;
  ReadState state;
  uint64_t thread;
  uint64_t generation;
  // A memoryview, never handed out, whose managed buffer every view of this read shares (see
  // View); nullptr until the first one.
  PyObject* base;
};

// A read that ended while views of it were alive: its pin lasts until they are gone.
struct DeferredRead {
  std::shared_ptr<Cache> cache;
  ReadTransaction* txn;
  uint64_t thread;
  uint64_t generation;
  PyObject* base;
};

// Both touched only with the GIL held, and by the fork handler in the single-threaded child.
// Never destroyed: pins still deferred at exit end with the process.
std::vector<ReadObject*>& OpenReads() {
  static auto* reads = new std::vector<ReadObject*>();
  return *reads;
}
std::vector<DeferredRead>& Deferred() {
  static auto* deferred = new std::vector<DeferredRead>();
  return *deferred;
}

_PyManagedBufferObject* BufferOf(PyObject* base) {
  return reinterpret_cast<PyMemoryViewObject*>(base)->mbuf;
}

// True while a memoryview other than `base` itself shares its buffer.
bool ViewsAlive(PyObject* base) { return BufferOf(base)->exports > 1; }

// Every view of the buffer, and every view made from one, raises ValueError from now on: the
// flag memoryview checks before each access. The buffer has no exporter object to release.
void MarkReleased(PyObject* base) { BufferOf(base)->flags |= _Py_MANAGED_BUFFER_RELEASED; }

// Drops the read's reference to its base view (see View), the only one. The view goes back on the
// collector's lists first, because deallocating a memoryview takes it off them.
void DropBase(PyObject*& base) {
  if (base == nullptr) return;
  PyObject_GC_Track(base);
  Py_CLEAR(base);
}

void OnForkChild() {
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  for (ReadObject* r : OpenReads()) {
    if (r->base != nullptr) MarkReleased(r->base);
  }
  OpenReads().clear();
}

extern PyTypeObject ReadType;
extern PyTypeObject ScanType;

ReadObject* AsRead(PyObject* o) { return reinterpret_cast<ReadObject*>(o); }

bool OwnedHere(const ReadObject* r) {
  return r->thread == ThisThreadId() &&
         r->generation == g_fork_generation.load(std::memory_order_relaxed);
}

// Sets the exception and returns false unless `r` may be used here and now.
bool CheckUsable(ReadObject* r) {
  if (r->state == ReadState::kOpen && OwnedHere(r)) return true;
  if (r->state == ReadState::kNotBegun) {
    PyErr_SetString(PyExc_ValueError,
                    "read transaction not begun: use it inside `with cache.read() as r:`");
  } else if (r->state == ReadState::kEnded) {
    PyErr_SetString(PyExc_ValueError, "read transaction has ended (its `with` block is over)");
  } else if (r->generation != g_fork_generation.load(std::memory_order_relaxed)) {
    PyErr_SetString(PyExc_ValueError,
                    "read transaction was begun before fork() in the parent process; begin a "
                    "new one in this process");
  } else {
    PyErr_SetString(PyExc_RuntimeError,
                    "read transaction used from another thread than the one that began it; "
                    "each thread begins its own (`with cache.read() as r:`)");
  }
  return false;
}

void Unregister(ReadObject* r) {
  auto& open = OpenReads();
  auto it = std::find(open.begin(), open.end(), r);
  if (it != open.end()) open.erase(it);
}

// Ends an open read on its own thread: now, or once its escaped views are gone.
void End(ReadObject* r) {
  Unregister(r);
  r->state = ReadState::kEnded;
  if (r->base != nullptr && ViewsAlive(r->base)) {
    MarkReleased(r->base);
    Deferred().push_back({r->cache, r->txn, r->thread, r->generation, r->base});
    r->base = nullptr;
  } else {
    DropBase(r->base);
    delete r->txn;
  }
  r->txn = nullptr;
}

// Forgets the transaction without ending it: the pin belongs to the parent of a fork, or to a
// thread that released it when it exited. Its views are released all the same.
void Abandon(ReadObject* r) {
  Unregister(r);
  r->state = ReadState::kEnded;
  r->txn = nullptr;
  if (r->base != nullptr) MarkReleased(r->base);
  DropBase(r->base);
}

// A read-only memoryview of `bytes`, which lie in the mapping pinned by `r`.
//
// Every view shares the managed buffer of `base`, so that ending the read releases them all with
// one flag, and a get costs one allocation with nothing to record. The base spans the whole
// address space; each view is made from it and then narrowed to its bytes, as slicing narrows
// a view (the fields are those of CPython's memoryobject.h).
PyObject* View(ReadObject* r, std::string_view bytes) {
  if (r->base == nullptr) {
    r->base = PyMemoryView_FromMemory(nullptr, PY_SSIZE_T_MAX, PyBUF_READ);
    if (r->base == nullptr) return nullptr;
    // Out of the collector's lists, so that no walk of live objects (gc.get_objects()) can
    // reach a view of the whole address space. It refers to no object that could form a cycle.
    PyObject_GC_UnTrack(r->base);
  }
  PyObject* v = PyMemoryView_FromObject(r->base);
  if (v == nullptr) return nullptr;
  Py_buffer& view = reinterpret_cast<PyMemoryViewObject*>(v)->view;
  view.buf = const_cast<char*>(bytes.data());
  view.len = static_cast<Py_ssize_t>(bytes.size());
  view.shape[0] = view.len;
  return v;
}

// --- Read methods ---

PyObject* ReadEnter(PyObject* self, PyObject*) {
  ReadObject* r = AsRead(self);
  if (r->state != ReadState::kNotBegun) {
    PyErr_SetString(PyExc_ValueError,
                    "a read transaction is entered once: call cache.read() for another");
    return nullptr;
  }
  return Guarded([&]() -> PyObject* {
    EndDeferredReads();
    OpenReads().reserve(OpenReads().size() + 1);
    r->txn = new ReadTransaction(r->cache->BeginRead());
    r->state = ReadState::kOpen;
    r->thread = ThisThreadId();
    r->generation = g_fork_generation.load(std::memory_order_relaxed);
    OpenReads().push_back(r);
    Py_INCREF(self);
    return self;
  });
}

PyObject* ReadExit(PyObject* self, PyObject*) {
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return nullptr;
  End(r);
  EndDeferredReads();
  Py_RETURN_FALSE;
}

// r.get(key, default=None): the value as a memoryview into the mapping, or `default`.
PyObject* ReadGet(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "get(key, default=None) takes 1 or 2 arguments");
    return nullptr;
  }
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return nullptr;
  BytesArg key;
  if (!key.Load(args[0], "key")) return nullptr;
  return Guarded([&]() -> PyObject* {
    if (std::optional<std::string_view> v = r->txn->Get(key.view())) return View(r, *v);
    PyObject* fallback = nargs == 2 ? args[1] : Py_None;
    Py_INCREF(fallback);
    return fallback;
  });
}

PyObject* ReadSubscript(PyObject* self, PyObject* key_obj) {
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return nullptr;
  BytesArg key;
  if (!key.Load(key_obj, "key")) return nullptr;
  return Guarded([&]() -> PyObject* {
    if (std::optional<std::string_view> v = r->txn->Get(key.view())) return View(r, *v);
    PyErr_SetObject(PyExc_KeyError, key_obj);
    return nullptr;
  });
}

int ReadContains(PyObject* self, PyObject* key_obj) {
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return -1;
  BytesArg key;
  if (!key.Load(key_obj, "key")) return -1;
  PyObject* found =
      Guarded([&]() -> PyObject* { return PyBool_FromLong(r->txn->Get(key.view()).has_value()); });
  if (found == nullptr) return -1;
  const int result = found == Py_True;
  Py_DECREF(found);
  return result;
}

Py_ssize_t ReadLength(PyObject* self) {
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return -1;
  return static_cast<Py_ssize_t>(r->txn->key_count());
}

PyObject* ReadAppliedId(PyObject* self, void*) {
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return nullptr;
  return PyLong_FromUnsignedLongLong(r->txn->applied_id());
}

// --- Scan iterator ---

using Chunk = std::vector<std::pair<std::string_view, std::string_view>>;

struct ScanObject {
  PyObject_HEAD PyObject* read;  // The ReadObject, kept alive by this iterator.
  std::string prefix;
  std::string next_start;  // The smallest key not handed out yet.
  Chunk chunk;             // Views into the pinned mapping.
  size_t index;
  bool exhausted;  // No entry with the prefix beyond the chunk.
};

ScanObject* AsScan(PyObject* o) { return reinterpret_cast<ScanObject*>(o); }

void FillChunk(ScanObject* s, ReadObject* r) {
  s->chunk.clear();
  s->index = 0;
  bool past_prefix = false;
  r->txn->ScanFrom(s->next_start, [&](std::string_view k, std::string_view v) {
    if (k.substr(0, s->prefix.size()) != s->prefix) {
      past_prefix = true;
      return false;
    }
    s->chunk.emplace_back(k, v);
    return s->chunk.size() < kScanChunk;
  });
  if (past_prefix || s->chunk.size() < kScanChunk) s->exhausted = true;
  if (!s->chunk.empty()) {
    // The successor of the last key in byte order: the next chunk starts after it.
    s->next_start.assign(s->chunk.back().first);
    s->next_start.push_back('\0');
  }
}

PyObject* ScanNext(PyObject* self) {
  ScanObject* s = AsScan(self);
  ReadObject* r = AsRead(s->read);
  if (!CheckUsable(r)) return nullptr;
  return Guarded([&]() -> PyObject* {
    if (s->index == s->chunk.size()) {
      if (s->exhausted) return nullptr;  // StopIteration.
      FillChunk(s, r);
      if (s->chunk.empty()) return nullptr;
    }
    const auto& [k, v] = s->chunk[s->index++];
    PyObject* key = View(r, k);
    if (key == nullptr) return nullptr;
    PyObject* value = View(r, v);
    if (value == nullptr) {
      Py_DECREF(key);
      return nullptr;
    }
    PyObject* pair = PyTuple_Pack(2, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return pair;
  });
}

void ScanDealloc(PyObject* self) {
  ScanObject* s = AsScan(self);
  Py_XDECREF(s->read);
  using std::string;
  s->prefix.~string();
  s->next_start.~string();
  s->chunk.~Chunk();
  Py_TYPE(self)->tp_free(self);
}

// r.scan(prefix=b""): an iterator of (key, value) memoryviews in byte order.
PyObject* ReadScan(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs > 1) {
    PyErr_SetString(PyExc_TypeError, "scan(prefix=b'') takes at most 1 argument");
    return nullptr;
  }
  ReadObject* r = AsRead(self);
  if (!CheckUsable(r)) return nullptr;
  BytesArg prefix;
  if (nargs == 1 && !prefix.Load(args[0], "prefix")) return nullptr;
  ScanObject* s = PyObject_New(ScanObject, &ScanType);
  if (s == nullptr) return nullptr;
  Py_INCREF(self);
  s->read = self;
  new (&s->prefix) std::string(prefix.view());
  new (&s->next_start) std::string(prefix.view());
  new (&s->chunk) Chunk();
  s->index = 0;
  s->exhausted = false;
  return reinterpret_cast<PyObject*>(s);
}

void ReadDealloc(PyObject* self) {
  ReadObject* r = AsRead(self);
  if (r->state == ReadState::kOpen) {
    if (OwnedHere(r)) {
      End(r);
    } else {
      Abandon(r);
    }
  }
  DropBase(r->base);
  r->cache.~shared_ptr();
  Py_TYPE(self)->tp_free(self);
}

template <class F>
PyCFunction AsCFunction(F f) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

PyMethodDef kReadMethods[] = {
    {"get", AsCFunction(ReadGet), METH_FASTCALL,
     "get(key, default=None)\n--\n\nThe value of `key` as a read-only memoryview into the shared "
     "mapping (no copy), or `default`. The view is released when the read ends."},
    {"scan", AsCFunction(ReadScan), METH_FASTCALL,
     "scan(prefix=b'')\n--\n\nIterates (key, value) memoryviews of the entries whose key starts "
     "with `prefix`, in byte order, all from this read's version."},
    {"__enter__", ReadEnter, METH_NOARGS, "Begins the transaction: pins the current state."},
    {"__exit__", ReadExit, METH_VARARGS,
     "Ends the transaction and releases every view it returned."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef kReadGetSet[] = {
    {"applied_id", ReadAppliedId, nullptr,
     "The id of the newest update this read's version includes.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyMappingMethods kReadMapping = {ReadLength, ReadSubscript, nullptr};

PySequenceMethods kReadSequence = [] {
  PySequenceMethods m{};
  m.sq_contains = ReadContains;
  return m;
}();

PyTypeObject ReadType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "whycache.Read";
  t.tp_basicsize = sizeof(ReadObject);
  t.tp_dealloc = ReadDealloc;
  t.tp_as_mapping = &kReadMapping;
  t.tp_as_sequence = &kReadSequence;
  t.tp_flags = Py_TPFLAGS_DEFAULT;
  t.tp_doc =
      "A read transaction: a consistent view of the local state, made by Cache.read() and "
      "used in a `with` block on the thread that entered it. Views it returns are released "
      "when the block ends. `key in r`, `r[key]` (KeyError when missing) and `len(r)` work "
      "on the same version.";
  t.tp_methods = kReadMethods;
  t.tp_getset = kReadGetSet;
  return t;
}();

PyTypeObject ScanType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "whycache.ReadScan";
  t.tp_basicsize = sizeof(ScanObject);
  t.tp_dealloc = ScanDealloc;
  t.tp_flags = Py_TPFLAGS_DEFAULT;
  t.tp_doc = "Iterator of (key, value) memoryviews made by Read.scan().";
  t.tp_iter = PyObject_SelfIter;
  t.tp_iternext = ScanNext;
  return t;
}();

}  // namespace

uint64_t ThisThreadId() {
  thread_local uint64_t id = g_next_thread_id.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void EndDeferredReads() {
  auto& deferred = Deferred();
  if (deferred.empty()) return;
  const uint64_t thread = ThisThreadId();
  const uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  std::erase_if(deferred, [&](DeferredRead& d) {
    if (d.generation != generation) {
      DropBase(d.base);  // The parent's pin: abandoned, never ended here.
      return true;
    }
    if (d.thread != thread || ViewsAlive(d.base)) return false;
    DropBase(d.base);
    delete d.txn;
    return true;
  });
}

bool RegisterReadTypes(PyObject* module) {
  if (PyType_Ready(&ReadType) < 0 || PyType_Ready(&ScanType) < 0) return false;
  Py_INCREF(&ReadType);
  if (PyModule_AddObject(module, "Read", reinterpret_cast<PyObject*>(&ReadType)) < 0) {
    Py_DECREF(&ReadType);
    return false;
  }
  static const int registered = pthread_atfork(nullptr, nullptr, OnForkChild);
  if (registered != 0) {
    PyErr_SetString(PyExc_RuntimeError, "whycache: pthread_atfork failed");
    return false;
  }
  return true;
}

PyObject* NewRead(std::shared_ptr<Cache> cache) {
  ReadObject* r = PyObject_New(ReadObject, &ReadType);
  if (r == nullptr) return nullptr;
  new (&r->cache) std::shared_ptr<Cache>(std::move(cache));
  r->txn = nullptr;
  r->state = ReadState::kNotBegun;
  r->thread = 0;
  r->generation = 0;
  r->base = nullptr;
  return reinterpret_cast<PyObject*>(r);
}

}  // namespace whycache::python
