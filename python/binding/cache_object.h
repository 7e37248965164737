// whycache.Cache: whycache::Cache for Python, bytes in and bytes out.
#ifndef WHYCACHE_PYTHON_BINDING_CACHE_OBJECT_H_
#define WHYCACHE_PYTHON_BINDING_CACHE_OBJECT_H_

#include <pybind11/pybind11.h>

namespace whycache::python {

// Adds Cache and verify_snapshot() to `m`.
void RegisterCache(pybind11::module_& m);

}  // namespace whycache::python

#endif  // WHYCACHE_PYTHON_BINDING_CACHE_OBJECT_H_
