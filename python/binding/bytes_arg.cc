#include "python/binding/bytes_arg.h"

#include <pybind11/pybind11.h>

namespace whycache::python {

bool BytesArg::Load(PyObject* obj, const char* what) {
  if (PyBytes_Check(obj)) {
    view_ = std::string_view(PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj));
    return true;
  }
  if (PyUnicode_Check(obj)) {
    PyErr_Format(PyExc_TypeError,
                 "a whycache %s is bytes, not str: encode it first (e.g. %s.encode())", what, what);
    return false;
  }
  if (PyObject_GetBuffer(obj, &buffer_, PyBUF_SIMPLE) != 0) {
    PyErr_Format(PyExc_TypeError, "a whycache %s is a bytes-like object, not %.200s", what,
                 Py_TYPE(obj)->tp_name);
    return false;
  }
  view_ = std::string_view(static_cast<const char*>(buffer_.buf), buffer_.len);
  return true;
}

std::string CopyBytes(PyObject* obj, const char* what) {
  BytesArg arg;
  if (!arg.Load(obj, what)) throw pybind11::error_already_set();
  return std::string(arg.view());
}

}  // namespace whycache::python
