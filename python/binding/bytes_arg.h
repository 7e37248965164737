// Keys and values passed from Python: any bytes-like object (bytes, bytearray, memoryview, ...).
// A str is refused rather than encoded, so that the bytes stored are the bytes the caller chose.
#ifndef WHYCACHE_PYTHON_BINDING_BYTES_ARG_H_
#define WHYCACHE_PYTHON_BINDING_BYTES_ARG_H_

#include <Python.h>

#include <string>
#include <string_view>

namespace whycache::python {

// A read-only view of a bytes-like argument. bytes objects are read in place (the common case
// costs no call); other objects through the buffer protocol, released by the destructor.
// REQUIRES: the GIL is held for construction and destruction, and the object outlives this.
class BytesArg {
 public:
  BytesArg() = default;
  BytesArg(const BytesArg&) = delete;
  BytesArg& operator=(const BytesArg&) = delete;
  ~BytesArg() {
    if (buffer_.obj != nullptr) PyBuffer_Release(&buffer_);
  }

  // Points this at `obj`. Returns false with TypeError set when `obj` is not bytes-like; `what`
  // names the argument ("key", "value") in the message.
  bool Load(PyObject* obj, const char* what);

  std::string_view view() const { return view_; }

 private:
  Py_buffer buffer_{};
  std::string_view view_;
};

// Copies a bytes-like argument; throws pybind11::error_already_set (TypeError) otherwise.
std::string CopyBytes(PyObject* obj, const char* what);

}  // namespace whycache::python

#endif  // WHYCACHE_PYTHON_BINDING_BYTES_ARG_H_
