#include "python/binding/subscribers.h"

#include <string>
#include <utility>
#include <vector>

#include "python/binding/errors.h"

namespace py = pybind11;

namespace whycache::python {
namespace {

// whycache.ChangeNotice, created once at import and kept for the life of the interpreter.
PyObject* g_notice_type = nullptr;

py::list BytesList(const std::vector<std::string>& items) {
  py::list list(items.size());
  for (size_t i = 0; i < items.size(); ++i) list[i] = py::bytes(items[i]);
  return list;
}

}  // namespace

void RegisterChangeNotice(py::module_& m) {
  struct Field {
    const char* name;
    const char* doc;
  };
  static constexpr Field kFields[] = {
      {"after_id", "The notice covers the updates after this id, up to last_id."},
      {"last_id", "A read begun after the notice sees a state at this id or later."},
      {"reload",
       "True when the machine cannot list what changed (more than MAX_NOTICE_KEYS keys, a "
       "rebuilt or restored state, or this process looked too late): keys and erased_prefixes "
       "are then empty, and everything under the prefix may have changed."},
      {"keys", "The keys under the prefix that were set or deleted (bytes), sorted, each once."},
      {"erased_prefixes",
       "The prefix deletes (bytes) that reached under the prefix: of it, of a shorter prefix of "
       "it or of a longer one within it, in the order applied."},
  };
  py::list names;
  for (const Field& f : kFields) names.append(f.name);
  py::object type = py::module_::import("collections")
                        .attr("namedtuple")("ChangeNotice", names, py::arg("module") = "whycache");
  type.attr("__doc__") =
      "What changed under a subscribed prefix, for the updates (after_id, last_id]: the argument "
      "of a Cache.subscribe callback.";
  for (const Field& f : kFields) type.attr(f.name).attr("__doc__") = f.doc;
  m.attr("ChangeNotice") = type;
  m.attr("MAX_NOTICE_KEYS") = ChangeNotice::kMaxKeys;
  g_notice_type = type.release().ptr();
}

std::function<void(const ChangeNotice&)> Subscriber::Callback(std::shared_ptr<Subscriber> s) {
  return [s = std::move(s)](const ChangeNotice& notice) { s->Call(notice); };
}

void Subscriber::Call(const ChangeNotice& notice) noexcept {
  py::gil_scoped_acquire gil;
  if (!callable_) return;
  // A reference of its own: the call may unsubscribe or close, which drops callable_.
  py::object callable = callable_;
  try {
    callable(py::reinterpret_borrow<py::object>(g_notice_type)(
        notice.after_id, notice.last_id, notice.reload, BytesList(notice.keys),
        BytesList(notice.erased_prefixes)));
  } catch (...) {
    SetErrorFromCurrentException();
    PyErr_WriteUnraisable(callable.ptr());
  }
}

void Subscribers::Drop(uint64_t id) {
  auto node = by_id_.extract(id);
  // Taken out before the reference goes: dropping it may run any Python code, which may change
  // this map.
  if (!node.empty()) py::object gone = std::move(node.mapped()->callable_);
}

void Subscribers::Clear() {
  // Taken out first, as in Drop.
  std::map<uint64_t, std::shared_ptr<Subscriber>> all;
  all.swap(by_id_);
  for (auto& [id, s] : all) py::object gone = std::move(s->callable_);
}

int Subscribers::Traverse(visitproc visit, void* arg) const {
  for (const auto& [id, s] : by_id_) Py_VISIT(s->callable_.ptr());
  return 0;
}

}  // namespace whycache::python
