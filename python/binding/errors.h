// whycache.Error and one subclass per whycache::Error::Code, raised with the C++ message.
#ifndef WHYCACHE_PYTHON_BINDING_ERRORS_H_
#define WHYCACHE_PYTHON_BINDING_ERRORS_H_

#include <pybind11/pybind11.h>

namespace whycache::python {

// Adds Error and its subclasses to `m` and makes pybind11 raise them for whycache::Error.
void RegisterErrors(pybind11::module_& m);

// Sets the Python exception for the C++ exception being handled (whycache::Error becomes its
// subclass, pybind11::error_already_set is restored, anything else is a RuntimeError). For
// functions written against the C API, which pybind11 does not wrap.
// REQUIRES: called inside a catch block, with the GIL held.
void SetErrorFromCurrentException();

// Runs `body` (returning a new reference or nullptr with an exception set) and turns any C++
// exception it throws into the Python one.
template <class Body>
PyObject* Guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    SetErrorFromCurrentException();
    return nullptr;
  }
}

}  // namespace whycache::python

#endif  // WHYCACHE_PYTHON_BINDING_ERRORS_H_
