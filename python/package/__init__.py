"""whycache: an in-process, shared-memory, replicated key-value store.

Every machine holds the whole dataset in one memory-mapped state file that all its processes
share; writes go to a change log (a directory of files or a MySQL table), and each machine
applies the log when a process calls update(). Reads are function calls into shared memory.

    cache = whycache.Cache("/dev/shm/flags.state", "file:/var/lib/flags/log")
    cache.update()                  # per request: nearly free unless a poll is due
    cache.get(b"user:42:perm")      # bytes, or None
    with cache.read() as r:         # zero-copy views, valid inside the block
        for key, value in r.scan(b"user:42:"):
            ...
    cache.subscribe(b"user:", on_change)  # on_change(notice) as changes under it are applied

WhycacheInstance keeps the API of the original Python library for services moving from it.
"""
from ._whycache import (
    ERASE_PREFIX,
    MAX_BATCH_BYTES,
    MAX_BATCH_MUTATIONS,
    MAX_KEY_BYTES,
    MAX_NOTICE_KEYS,
    MAX_VALUE_BYTES,
    Busy,
    Cache,
    ChangeNotice,
    Corruption,
    Error,
    Incompatible,
    InvalidArgument,
    IOError,
    Read,
    TimedOut,
    Unavailable,
    __version__,
    verify_snapshot,
)
from .prototype import JSON, PICKLE, RAW, Serializer, WhycacheInstance

__all__ = [
    "ERASE_PREFIX",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_MUTATIONS",
    "MAX_KEY_BYTES",
    "MAX_NOTICE_KEYS",
    "MAX_VALUE_BYTES",
    "Busy",
    "Cache",
    "ChangeNotice",
    "Corruption",
    "Error",
    "Incompatible",
    "InvalidArgument",
    "IOError",
    "JSON",
    "PICKLE",
    "RAW",
    "Read",
    "Serializer",
    "TimedOut",
    "Unavailable",
    "WhycacheInstance",
    "verify_snapshot",
]
