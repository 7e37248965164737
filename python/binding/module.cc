// The _whycache extension module; the whycache package re-exports it.
#include <pybind11/pybind11.h>

#include "python/binding/cache_object.h"
#include "python/binding/errors.h"
#include "python/binding/read_object.h"
#include "python/binding/subscribers.h"
#include "whycache/limits.h"
#include "whycache/version.h"

namespace py = pybind11;

PYBIND11_MODULE(_whycache, m) {
  m.doc() = "whycache: an in-process, shared-memory, replicated key-value store.";
  m.attr("__version__") = whycache::kVersion;
  m.attr("MAX_KEY_BYTES") = whycache::kMaxKeyBytes;
  m.attr("MAX_VALUE_BYTES") = whycache::kMaxValueBytes;
  m.attr("MAX_BATCH_MUTATIONS") = whycache::kMaxBatchMutations;
  m.attr("MAX_BATCH_BYTES") = whycache::kMaxBatchBytes;
  whycache::python::RegisterErrors(m);
  if (!whycache::python::RegisterReadTypes(m.ptr())) throw py::error_already_set();
  whycache::python::RegisterChangeNotice(m);
  whycache::python::RegisterCache(m);
}
