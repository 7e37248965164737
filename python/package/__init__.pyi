"""Type stubs of the whycache package (the _whycache extension and the prototype's API)."""
from types import TracebackType
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Literal, Mapping, NamedTuple,
                    Optional, Protocol, Sequence, Tuple, Type, TypedDict, TypeVar, Union,
                    overload)

_T = TypeVar("_T")
# Keys and values: any bytes-like object; str is refused.
_Bytes = Union[bytes, bytearray, memoryview]

__version__: str
MAX_KEY_BYTES: int
MAX_VALUE_BYTES: int
MAX_BATCH_MUTATIONS: int
MAX_BATCH_BYTES: int
# Beyond this many keys a ChangeNotice says reload instead of listing them.
MAX_NOTICE_KEYS: int

class _ErasePrefixMarker:
    """The type of ERASE_PREFIX; it has no other instance."""

# As the value of a pair of Cache.write: delete every key that starts with the pair's key.
ERASE_PREFIX: _ErasePrefixMarker

class Error(Exception):
    """Base class of every whycache failure; the message says what and what to do."""

class InvalidArgument(Error):
    """An oversized key or value, a bad URI or option."""

class Corruption(Error):
    """Stored bytes failed validation: a state file, snapshot or log record."""

class Incompatible(Error):
    """A valid file of another dataset or format version than expected."""

class Unavailable(Error):
    """The change log cannot be reached."""

class IOError(Error):
    """An operating-system call on a local file failed."""

class Busy(Error):
    """Another process holds a resource (e.g. every reader slot is taken)."""

class TimedOut(Error):
    """A wait with a deadline ran out."""

class Read:
    """A read transaction: `with cache.read() as r:`. Use it on the thread that entered it;
    every memoryview it returned is released (ValueError on use) when the block ends."""

    def __enter__(self) -> "Read": ...
    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> Literal[False]: ...
    @overload
    def get(self, key: _Bytes) -> Optional[memoryview]:
        """The value as a read-only memoryview into the shared mapping, or None."""
    @overload
    def get(self, key: _Bytes, default: _T) -> Union[memoryview, _T]: ...
    def __getitem__(self, key: _Bytes) -> memoryview:
        """The value as a memoryview; KeyError when missing."""
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int:
        """The number of keys in this read's version."""
    def scan(self, prefix: _Bytes = b"") -> Iterator[Tuple[memoryview, memoryview]]:
        """(key, value) memoryviews of the entries whose key starts with `prefix`, in byte
        order."""
    @property
    def applied_id(self) -> int:
        """The id of the newest update this read's version includes."""

class ChangeNotice(NamedTuple):
    """What changed under a subscribed prefix, for the updates (after_id, last_id]: the argument
    of a Cache.subscribe callback."""
    after_id: int
    # A read begun after the notice sees a state at this id or later.
    last_id: int
    # The machine cannot list what changed (more than MAX_NOTICE_KEYS keys, a rebuilt or restored
    # state, or this process looked too late): keys and erased_prefixes are empty; read the
    # whole prefix again.
    reload: bool
    # The keys under the prefix that were set or deleted, sorted, each once.
    keys: List[bytes]
    # The prefix deletes that reached under the prefix (of it, of a shorter prefix of it or of a
    # longer one within it), in the order applied.
    erased_prefixes: List[bytes]

class _PrefixStats(TypedDict):
    """Reads of the keys that start with `prefix`: this process's and the whole machine's."""
    prefix: bytes
    process_hits: int
    process_misses: int
    machine_hits: int
    machine_misses: int

class Cache:
    """A dataset replicated onto this machine (see the module docstring)."""

    def __init__(self, state_path: str, log_uri: str, *, poll_interval_ms: int = 50,
                 max_updates_per_poll: int = 100000, resync_snapshot: str = "",
                 create_if_missing: bool = False,
                 fsync: Literal["every_append", "never"] = "every_append",
                 reconnect_budget_ms: int = 1000,
                 stat_prefixes: Iterable[_Bytes] = ()) -> None:
        """Opens (creating when missing) the state file and connects to the log. Reads of keys
        starting with each of `stat_prefixes` are counted, by this process and by the machine
        (stats()["prefixes"])."""
    @overload
    def get(self, key: _Bytes) -> Optional[bytes]:
        """A copy of the value of `key`, or None (or `default`)."""
    @overload
    def get(self, key: _Bytes, default: _T) -> Union[bytes, _T]: ...
    def __getitem__(self, key: _Bytes) -> bytes:
        """The value; KeyError when missing."""
    def __contains__(self, key: _Bytes) -> bool: ...
    def __len__(self) -> int: ...
    def read(self) -> Read:
        """A read transaction, for `with cache.read() as r:`."""
    def update(self) -> None:
        """The per-request call: nearly free unless a poll is due. With subscriptions, it also
        calls their callbacks for what the machine applied, due or not. Never raises."""
    def update_now(self) -> int:
        """Polls and applies now; returns the applied id."""
    def wait_for(self, id: int, timeout_s: float) -> bool:
        """Applies until update `id` is visible here or the timeout passes."""
    @property
    def applied_id(self) -> int:
        """The id of the newest update in the local state."""
    def stats(self) -> Dict[str, Union[int, str, List[_PrefixStats]]]:
        """Figures about the local state and the log. "prefixes": this Cache's stat_prefixes,
        then the other prefixes the machine counts, each with process_hits, process_misses,
        machine_hits and machine_misses."""
    def set(self, key: _Bytes, value: _Bytes) -> int:
        """Appends an update setting `key`; returns its id."""
    def set_multi(self, mapping: Mapping[_Bytes, _Bytes]) -> int:
        """Appends one atomic update setting every key; returns its id."""
    def delete(self, key: _Bytes) -> int:
        """Appends an update deleting `key`; returns its id."""
    def delete_multi(self, keys: Iterable[_Bytes]) -> int:
        """Appends one atomic update deleting every key; returns its id."""
    def erase_prefix(self, prefix: _Bytes) -> int:
        """Appends an update deleting every key that starts with `prefix` (not empty: else
        InvalidArgument); returns its id."""
    def write(self, ops: Union[Sequence[Tuple[_Bytes, Union[_Bytes, None, _ErasePrefixMarker]]],
                               Mapping[_Bytes, Union[_Bytes, None, _ErasePrefixMarker]]]) -> int:
        """Appends one atomic update of mixed changes, applied in order (None deletes the key,
        ERASE_PREFIX every key that starts with it); returns its id."""
    def compact(self, *, before_id: int = 0,
                tombstone_retention_s: float = 604800.0) -> Dict[str, int]:
        """Compacts the log's history below `before_id` (0: all)."""
    def create_snapshot(self, path: str) -> Dict[str, Any]:
        """Writes a snapshot of the local state to `path`."""
    def restore_snapshot(self, path: str) -> Dict[str, Any]:
        """Replaces the local state with the snapshot at `path`."""
    def verify(self) -> None:
        """Checks the local state's structure; raises Corruption."""
    def check_against_log(self) -> str:
        """'' when the local state equals the log replayed, else the first difference."""
    def subscribe(self, prefix: _Bytes, callback: Callable[[ChangeNotice], object]) -> int:
        """Calls callback(notice) each time updates that changed keys under `prefix` (b"": any)
        have been applied on this machine, by any of its processes: in this process, inside its
        next update(), update_now(), wait_for() or restore_snapshot(), with the GIL held. What
        the callback raises goes to sys.unraisablehook; the update goes on. Returns the
        subscription's id."""
    def unsubscribe(self, id: int) -> None:
        """Ends a subscription: its callback is not called once this returns. An unknown id is
        ignored."""
    def close(self) -> None:
        """Closes the cache (idempotent) and ends its subscriptions."""
    def __enter__(self) -> "Cache": ...
    def __exit__(self, *args: object) -> Literal[False]: ...

def verify_snapshot(path: str) -> Dict[str, Any]:
    """Checks a snapshot file without changing anything; raises Corruption."""

class Serializer(Protocol):
    """Turns values into the bytes stored, and back."""

    def dumps(self, value: Any) -> bytes: ...
    def loads(self, data: bytes) -> Any: ...

PICKLE: Serializer
JSON: Serializer
RAW: Serializer

class WhycacheInstance:
    """The original Python library's API over Cache; values pickled by default."""

    def __init__(self, state_path: str, log_uri: str, *, serializer: Serializer = ...,
                 apply_timeout_s: float = 30.0, **cache_options: Any) -> None: ...
    def shared_state_filename(self) -> str: ...
    def close_shared_state(self) -> None: ...
    def get_shared_state_update_id(self) -> int: ...
    def get(self, key: bytes) -> Any:
        """The value of `key`; KeyError when missing."""
    def keys(self) -> Iterator[bytes]: ...
    def values(self) -> Iterator[Any]: ...
    def items(self) -> Iterator[Tuple[bytes, Any]]: ...
    async def update(self) -> None: ...
    async def set(self, key: bytes, value: Any) -> int: ...
    async def set_multi(self, items: Dict[bytes, Any]) -> Optional[int]: ...
    async def delete(self, key: bytes) -> int: ...
    async def delete_multi(self, keys: Iterable[bytes]) -> Optional[int]: ...
    async def rewrite_history(self, limit_update_id: int) -> None: ...
