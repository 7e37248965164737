// Cache.subscribe for Python: the callables of a Cache's subscriptions, and the C++ callbacks
// (Cache::Subscribe) that call them with a whycache.ChangeNotice.
//
// A C++ callback runs inside Update(), UpdateNow(), WaitFor() or RestoreSnapshot(), which the
// binding calls with the GIL released, and takes the GIL to call its callable. What the callable
// raises has no caller to go to (update() never raises, and the delivering call may be another
// thread's), so it is reported the way Python reports such exceptions, through
// sys.unraisablehook, and the other subscriptions are called as usual.
//
// The Cache may keep a callback after its subscription ended here, and destroy it later without
// the GIL. So the callable is dropped here first, with the GIL (on unsubscribe, on close, when
// the Python Cache goes away, and when the garbage collector breaks a cycle through it), and a
// callback whose callable was dropped does nothing.
#ifndef WHYCACHE_PYTHON_BINDING_SUBSCRIBERS_H_
#define WHYCACHE_PYTHON_BINDING_SUBSCRIBERS_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "whycache/cache.h"

namespace whycache::python {

// Adds ChangeNotice (a named tuple) and MAX_NOTICE_KEYS to `m`.
void RegisterChangeNotice(pybind11::module_& m);

// One subscription's callable, shared by its C++ callback and its Subscribers.
class Subscriber {
 public:
  explicit Subscriber(pybind11::object callable) : callable_(std::move(callable)) {}

  // The callback to pass to Cache::Subscribe. It shares this object and may be called on any
  // thread, with or without the GIL.
  static std::function<void(const ChangeNotice&)> Callback(std::shared_ptr<Subscriber> s);

 private:
  friend class Subscribers;
  void Call(const ChangeNotice& notice) noexcept;

  pybind11::object callable_;  // Empty once dropped. Read and changed with the GIL held.
};

// The subscribers of one Python Cache, by subscription id. REQUIRES: the GIL, for every method.
class Subscribers {
 public:
  Subscribers() = default;
  Subscribers(Subscribers&&) = default;
  Subscribers& operator=(Subscribers&&) = delete;
  ~Subscribers() { Clear(); }

  void Keep(uint64_t id, std::shared_ptr<Subscriber> s) { by_id_[id] = std::move(s); }
  // Drops the callable of subscription `id`, if it is here: no call of it begins afterwards.
  void Drop(uint64_t id);
  // Drops every callable.
  void Clear();
  // Visits every callable, for the garbage collector (tp_traverse).
  int Traverse(visitproc visit, void* arg) const;

 private:
  std::map<uint64_t, std::shared_ptr<Subscriber>> by_id_;
};

}  // namespace whycache::python

#endif  // WHYCACHE_PYTHON_BINDING_SUBSCRIBERS_H_
