#include "python/binding/errors.h"

#include <exception>
#include <string>

#include "whycache/error.h"

namespace py = pybind11;

namespace whycache::python {
namespace {

// Created once at import; the module keeps them alive for the life of the interpreter.
PyObject* g_base = nullptr;
PyObject* g_by_code[7] = {};

int CodeIndex(Error::Code code) { return static_cast<int>(code); }

PyObject* ClassFor(Error::Code code) {
  const int i = CodeIndex(code);
  return i >= 0 && i < static_cast<int>(std::size(g_by_code)) && g_by_code[i] != nullptr
             ? g_by_code[i]
             : g_base;
}

void Raise(const Error& e) { PyErr_SetString(ClassFor(e.code()), e.what()); }

}  // namespace

void RegisterErrors(py::module_& m) {
  g_base = PyErr_NewExceptionWithDoc(
      "whycache.Error",
      "Base class of every whycache failure. The message names the file, key, update id or "
      "server involved and what to do about it.",
      PyExc_Exception, nullptr);
  if (g_base == nullptr) throw py::error_already_set();
  m.add_object("Error", py::handle(g_base));
  struct Kind {
    Error::Code code;
    const char* name;
    const char* doc;
  };
  static constexpr Kind kKinds[] = {
      {Error::Code::kInvalidArgument, "InvalidArgument",
       "The caller passed something unusable: an oversized key or value, a bad URI or option."},
      {Error::Code::kCorruption, "Corruption",
       "Stored bytes failed validation: a state file, snapshot or log record."},
      {Error::Code::kIncompatible, "Incompatible",
       "A valid file of another dataset or format version than expected."},
      {Error::Code::kUnavailable, "Unavailable",
       "The change log (a file directory or a database server) cannot be reached."},
      {Error::Code::kIOError, "IOError", "An operating-system call on a local file failed."},
      {Error::Code::kBusy, "Busy",
       "Another process holds a resource and waiting was not requested."},
      {Error::Code::kTimedOut, "TimedOut", "A wait with a deadline ran out."},
  };
  for (const Kind& k : kKinds) {
    const std::string qualified = std::string("whycache.") + k.name;
    PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), k.doc, g_base, nullptr);
    if (cls == nullptr) throw py::error_already_set();
    g_by_code[CodeIndex(k.code)] = cls;
    m.add_object(k.name, py::handle(cls));
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      Raise(e);
    }
  });
}

void SetErrorFromCurrentException() {
  try {
    throw;
  } catch (const Error& e) {
    Raise(e);
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception in whycache");
  }
}

}  // namespace whycache::python
