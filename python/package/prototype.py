"""The API of the original Python whycache library, over whycache.Cache.

For services moving from it: the same method names, coroutines where it had them, and values
that are any picklable object. What differs, on purpose:
- keys(), values() and items() come from one consistent read of the state (the original
  iterated a tree that updates could change underneath).
- The local state only ever changes by applying the log: set() and friends append, then apply
  the log up to their own update (the original wrote its local state directly, which could
  overwrite a newer value another process had applied).
- update() is the per-request call of whycache.Cache: it polls the log at most once per poll
  interval per machine, instead of querying the store on every call.
"""
import json
import pickle
from typing import Any, Dict, Iterable, Iterator, Optional, Protocol, Tuple

from ._whycache import Cache, TimedOut


class Serializer(Protocol):
    """Turns values into the bytes stored, and back."""

    def dumps(self, value: Any) -> bytes:
        """The bytes to store for `value`."""

    def loads(self, data: bytes) -> Any:
        """The value that `data`, bytes made by dumps(), stands for."""


class _Json:
    """Values as UTF-8 JSON text."""

    @staticmethod
    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    @staticmethod
    def loads(data: bytes) -> Any:
        return json.loads(bytes(data))


class _Raw:
    """Values stored as given: bytes-like in, bytes out."""

    @staticmethod
    def dumps(value: Any) -> bytes:
        return bytes(value)

    @staticmethod
    def loads(data: bytes) -> bytes:
        return bytes(data)


PICKLE: Serializer = pickle  # The original library's encoding, and the default.
JSON: Serializer = _Json()
RAW: Serializer = _Raw()

_MISSING = object()


class WhycacheInstance:
    """A whycache dataset with the original library's API.

    state_path and log_uri are those of whycache.Cache; other keyword arguments (e.g.
    poll_interval_ms, create_if_missing) go to it too. `serializer` encodes values (pickle by
    default, as the original did; JSON or RAW for other readers of the same log).
    `apply_timeout_s` bounds how long a write waits for its update to be applied here.
    """

    def __init__(self, state_path: str, log_uri: str, *, serializer: Serializer = PICKLE,
                 apply_timeout_s: float = 30.0, **cache_options: Any) -> None:
        """Opens nothing yet: the state file is opened by the first call that needs it."""
        self._state_path = state_path
        self._log_uri = log_uri
        self._options = cache_options
        self._serializer = serializer
        self._apply_timeout_s = apply_timeout_s
        self._cache: Optional[Cache] = None

    def _open(self) -> Cache:
        if self._cache is None:
            self._cache = Cache(self._state_path, self._log_uri, **self._options)
        return self._cache

    def _applied(self, update_id: int) -> int:
        """Applies the log here up to `update_id`, so that this process reads its own write."""
        if not self._open().wait_for(update_id, self._apply_timeout_s):
            raise TimedOut(
                f"update {update_id} was appended to {self._log_uri} but not applied to "
                f"{self._state_path} within {self._apply_timeout_s} s; see stats()['last_error']")
        return update_id

    def shared_state_filename(self) -> str:
        """The path of the shared state file."""
        return self._state_path

    def close_shared_state(self) -> None:
        """Closes the shared state file; the next call that needs it opens it again."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def get_shared_state_update_id(self) -> int:
        """The id of the newest update applied to the shared state."""
        return self._open().applied_id

    def get(self, key: bytes) -> Any:
        """The value of `key`; raises KeyError if it is missing."""
        data = self._open().get(key, _MISSING)
        if data is _MISSING:
            raise KeyError(key)
        return self._serializer.loads(data)

    def _entries(self) -> list:
        loads = self._serializer.loads
        with self._open().read() as r:
            return [(bytes(k), loads(v)) for k, v in r.scan()]

    def keys(self) -> Iterator[bytes]:
        """The keys of one consistent view of the state, in byte order."""
        with self._open().read() as r:
            return iter([bytes(k) for k, _ in r.scan()])

    def values(self) -> Iterator[Any]:
        """The values of one consistent view of the state, in key order."""
        return iter([v for _, v in self._entries()])

    def items(self) -> Iterator[Tuple[bytes, Any]]:
        """The (key, value) pairs of one consistent view of the state, in key order."""
        return iter(self._entries())

    async def update(self) -> None:
        """Applies new updates from the log when a poll is due (see the module docstring)."""
        self._open().update()

    async def set(self, key: bytes, value: Any) -> int:
        """Sets `key`; returns the update id, applied here when this returns."""
        data = self._serializer.dumps(value)
        return self._applied(self._open().set(key, data))

    async def set_multi(self, items: Dict[bytes, Any]) -> Optional[int]:
        """Sets every key of `items` in one atomic update; returns its id (None for no items)."""
        if not items:
            return None
        dumps = self._serializer.dumps
        return self._applied(self._open().set_multi({k: dumps(v) for k, v in items.items()}))

    async def delete(self, key: bytes) -> int:
        """Deletes `key` (missing is fine); returns the update id."""
        return self._applied(self._open().delete(key))

    async def delete_multi(self, keys: Iterable[bytes]) -> Optional[int]:
        """Deletes every key of `keys` in one atomic update; returns its id (None for none)."""
        keys = list(keys)
        if not keys:
            return None
        return self._applied(self._open().delete_multi(keys))

    async def rewrite_history(self, limit_update_id: int) -> None:
        """Compacts the log up to and including `limit_update_id`: each key keeps its newest
        entry. Machines keep applying meanwhile; those left behind resync by themselves."""
        self._open().compact(before_id=limit_update_id + 1)
