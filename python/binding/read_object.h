// whycache.Read: a read transaction (`with cache.read() as r:`) whose values are memoryviews
// into the shared mapping, released when the transaction ends.
//
// How a view is never a window onto reused memory: each view r.get() returns is a memoryview
// over the mapping whose managed buffer the transaction keeps. When the block ends, the managed
// buffer of every view still alive is marked released, so that view, and every slice, cast or
// memoryview made from it, raises ValueError on use. A view that outlives the block may still
// have lent its buffer to C code (numpy.frombuffer); so while such a view lives, the version
// stays pinned, and the pin ends at the next read transaction of the same thread after the last
// of those views is gone. A fork makes every view the child inherited raise ValueError: the pins
// behind them belong to the parent.
#ifndef WHYCACHE_PYTHON_BINDING_READ_OBJECT_H_
#define WHYCACHE_PYTHON_BINDING_READ_OBJECT_H_

#include <Python.h>

#include <memory>

#include "whycache/cache.h"

namespace whycache::python {

// Makes the Read and ReadScan types ready and adds Read to `module`; installs the fork handler.
// Returns false with an exception set on failure.
bool RegisterReadTypes(PyObject* module);

// A new, not yet entered Read of `cache` (a new reference), or nullptr with an exception set.
PyObject* NewRead(std::shared_ptr<Cache> cache);

// Ends the pins of reads that ended while views of them were still alive, once those views are
// gone. Called by each new read transaction and Cache.close(). REQUIRES: the GIL.
void EndDeferredReads();

// An id of the calling thread that, unlike pthread_self(), is never reused by a later thread.
uint64_t ThisThreadId();

}  // namespace whycache::python

#endif  // WHYCACHE_PYTHON_BINDING_READ_OBJECT_H_
