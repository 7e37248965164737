"""whycache.Cache on the file log: the core API, read transactions, threads and errors."""
import ctypes
import os
import random
import threading

import pytest

import whycache


def read_barrier_the_kernel_offers():
    """'membarrier' where membarrier(2) offers MEMBARRIER_CMD_GLOBAL_EXPEDITED and its
    registration (MEMBARRIER_CMD_QUERY is 0), else 'fence'."""
    syscall_number = {"x86_64": 324, "aarch64": 283}[os.uname().machine]
    libc = ctypes.CDLL(None, use_errno=True)
    offered = libc.syscall(syscall_number, 0, 0)
    needed = (1 << 1) | (1 << 2)
    return "membarrier" if offered > 0 and offered & needed == needed else "fence"


def applied(cache, update_id):
    assert cache.wait_for(update_id, 30.0), f"update {update_id} not applied"
    return update_id


def test_import_exposes_the_api():
    for name in ("Cache", "Read", "WhycacheInstance", "Error", "verify_snapshot", "ERASE_PREFIX"):
        assert getattr(whycache, name).__doc__, name
    assert whycache.MAX_KEY_BYTES == 4096


def test_set_get_and_mapping_protocol(cache):
    applied(cache, cache.set(b"flag", b"on"))
    assert cache.get(b"flag") == b"on"
    assert isinstance(cache.get(b"flag"), bytes)
    assert cache.get(b"missing") is None
    assert cache.get(b"missing", b"dflt") == b"dflt"
    assert cache[b"flag"] == b"on"
    with pytest.raises(KeyError) as e:
        cache[b"missing"]
    assert e.value.args == (b"missing",)
    assert b"flag" in cache and b"missing" not in cache
    assert len(cache) == 1
    # Any bytes-like key works.
    assert cache.get(bytearray(b"flag")) == b"on"
    assert cache.get(memoryview(b"xflag")[1:]) == b"on"


def test_binary_keys_and_values_round_trip(cache):
    rng = random.Random(7)
    expected = {bytes([i]) * 3 + b"\x00" + bytes([255 - i]): bytes(rng.getrandbits(8) for _ in range(i))
                for i in range(256)}
    expected[b"\x00"] = b""
    expected[b"\xff" * 4096] = os.urandom(1 << 20)
    applied(cache, cache.set_multi(expected))
    for k, v in expected.items():
        assert cache.get(k) == v
    with cache.read() as r:
        assert [(bytes(k), bytes(v)) for k, v in r.scan()] == sorted(expected.items())


def test_writes_return_increasing_ids_and_apply_in_order(cache):
    a = cache.set(b"k", b"1")
    b = cache.set_multi({b"k": b"2", b"j": b"x"})
    c = cache.delete(b"j")
    d = cache.write([(b"k", b"3"), (b"gone", None), (b"new", b"n")])
    e = cache.delete_multi([b"new", b"absent"])
    f = cache.write({b"m": b"1"})
    assert a < b < c < d < e < f
    assert cache.update_now() == f
    assert cache.applied_id == f
    assert cache.get(b"k") == b"3" and cache.get(b"j") is None
    assert cache.get(b"new") is None and cache.get(b"m") == b"1"
    assert cache.check_against_log() == ""
    cache.verify()
    stats = cache.stats()
    assert stats["applied_id"] == f and stats["keys"] == 2 and stats["last_error"] == ""
    assert stats["resync_snapshot_unused"] == ""
    assert stats["reader_slots"] >= stats["reader_slots_in_use"] and stats["reader_slots"] > 0
    assert stats["read_barrier"] == read_barrier_the_kernel_offers()


def scanned(cache, prefix=b""):
    with cache.read() as r:
        return {bytes(k): bytes(v) for k, v in r.scan(prefix)}


def test_erase_prefix_deletes_exactly_the_keys_under_it(cache):
    written = {b"s:": b"self", b"s:1": b"1", b"s:2:deep": b"2d", b"s:\x00": b"nul",
               b"s": b"shorter", b"s;": b"after", b"s9": b"neighbour", b"t:1": b"other"}
    first = cache.set_multi(written)
    erased = cache.erase_prefix(b"s:")
    assert erased > first
    applied(cache, erased)
    assert scanned(cache) == {k: v for k, v in written.items() if not k.startswith(b"s:")}
    # A set after it stands; a prefix no key starts with changes nothing.
    applied(cache, cache.set(b"s:new", b"n"))
    applied(cache, cache.erase_prefix(b"nothing:here"))
    assert scanned(cache, b"s:") == {b"s:new": b"n"}
    assert len(cache) == 5
    assert cache.check_against_log() == ""


def test_erase_prefix_takes_any_bytes(cache):
    """NUL and non-ASCII bytes, through any bytes-like object; a str is refused, as for keys
    (its UTF-8 encoding is the prefix to pass)."""
    prefix = "é\x00:".encode()
    written = {prefix + b"1": b"a", prefix + b"\xff": b"b", prefix: b"self",
               "é\x00;".encode(): b"after", "é".encode(): b"shorter", b"\xc3\xa9\x00": b"nul"}
    applied(cache, cache.set_multi(written))
    survivors = {k: v for k, v in written.items() if not k.startswith(prefix)}
    assert len(survivors) == 3
    applied(cache, cache.erase_prefix(memoryview(b"xx" + prefix)[2:]))
    assert scanned(cache) == survivors
    applied(cache, cache.set_multi({b"\x00\xff:1": b"1", b"\x00\xff:2": b"2", b"\x00\xfe": b"3"}))
    applied(cache, cache.erase_prefix(bytearray(b"\x00\xff")))
    assert scanned(cache, b"\x00") == {b"\x00\xfe": b"3"}
    with pytest.raises(TypeError, match="a whycache prefix is bytes, not str"):
        cache.erase_prefix("é\x00:")
    with pytest.raises(TypeError, match="a whycache prefix is a bytes-like object, not int"):
        cache.erase_prefix(5)
    with pytest.raises(TypeError, match="a whycache prefix is bytes, not str"):
        cache.write([("s:", whycache.ERASE_PREFIX)])


def test_write_applies_prefix_deletes_in_order_with_the_rest(cache):
    applied(cache, cache.set_multi({b"s:1": b"old", b"s:2": b"old", b"t:1": b"keep",
                                    b"u:1": b"old"}))
    # A prefix delete then a set under it replaces the subtree in one update.
    replaced = cache.write([(b"s:", whycache.ERASE_PREFIX), (b"s:1", b"new")])
    applied(cache, replaced)
    assert scanned(cache) == {b"s:1": b"new", b"t:1": b"keep", b"u:1": b"old"}
    # A set before the prefix delete in the same update is deleted by it; the mapping form and
    # deletes (None) mix in as well.
    applied(cache, cache.write({b"u:2": b"gone", b"u:": whycache.ERASE_PREFIX, b"u:3": b"kept",
                                b"t:1": None}))
    assert scanned(cache) == {b"s:1": b"new", b"u:3": b"kept"}
    assert cache.check_against_log() == ""
    assert repr(whycache.ERASE_PREFIX) == "whycache.ERASE_PREFIX"
    with pytest.raises(TypeError):
        type(whycache.ERASE_PREFIX)()


def test_an_empty_prefix_is_refused_and_appends_nothing(cache):
    last = applied(cache, cache.set(b"k", b"v"))
    message = "a prefix delete needs a prefix: an empty one would delete every key"
    with pytest.raises(whycache.InvalidArgument, match=message):
        cache.erase_prefix(b"")
    with pytest.raises(whycache.InvalidArgument, match=message):
        cache.write([(b"k2", b"v2"), (b"", whycache.ERASE_PREFIX)])
    assert cache.update_now() == last
    assert cache.set(b"after", b"1") == last + 1
    assert applied(cache, last + 1) and scanned(cache) == {b"k": b"v", b"after": b"1"}


def test_read_views_are_zero_copy_and_consistent(cache):
    applied(cache, cache.set_multi({b"a": b"1", b"b": b"2"}))
    with cache.read() as r:
        first = r.applied_id
        v = r.get(b"a")
        assert isinstance(v, memoryview) and v.readonly and bytes(v) == b"1"
        assert r[b"b"] == b"2" and b"a" in r and len(r) == 2
        assert r.get(b"zz") is None and r.get(b"zz", 5) == 5
        with pytest.raises(KeyError):
            r[b"zz"]
        # A write applied meanwhile does not change this read's version.
        applied(cache, cache.set_multi({b"a": b"changed", b"b": b"changed"}))
        assert bytes(r.get(b"a")) == b"1" and bytes(v) == b"1"
        assert r.applied_id == first
    assert cache.get(b"a") == b"changed"


def test_views_are_released_when_the_read_ends(cache):
    applied(cache, cache.set_multi({b"a": b"hello", b"p:1": b"x"}))
    with cache.read() as r:
        v = r.get(b"a")
        derived = [v[1:3], memoryview(v), v.cast("B"), v.toreadonly()]
        scanned = next(iter(r.scan(b"p:")))
    for view in [v, *derived, *scanned]:
        with pytest.raises(ValueError):
            view.tobytes()
        with pytest.raises(ValueError):
            view[0]
        with pytest.raises(ValueError):
            bytes(view)
    del v, derived, scanned
    # The read is over too.
    with pytest.raises(ValueError, match="ended"):
        r.get(b"a")
    # The next read ends the pin the escaped views kept.
    with cache.read() as r2:
        assert bytes(r2.get(b"a")) == b"hello"
    assert cache.stats()["reader_slots_in_use"] <= 1


def test_an_escaped_view_keeps_its_version_pinned_until_it_is_gone(cache):
    """C code may hold a buffer of a view kept past its block: the pin must outlive the view."""
    applied(cache, cache.set(b"a", b"old"))
    with cache.read() as r:
        kept = r.get(b"a")
    for n in range(3):
        applied(cache, cache.set(b"a", b"new%d" % n))
    pinned = cache.stats()["oldest_pinned_version"]
    applied(cache, cache.set(b"a", b"newer"))
    with cache.read():
        pass
    assert cache.stats()["oldest_pinned_version"] == pinned, "unpinned while a view lives"
    with pytest.raises(ValueError):
        kept.tobytes()
    del kept
    with cache.read():  # Ends the pin the view kept.
        pass
    applied(cache, cache.set(b"a", b"last"))
    assert cache.stats()["oldest_pinned_version"] > pinned


def test_no_object_walk_reaches_a_view_wider_than_a_value(cache):
    import gc
    applied(cache, cache.set(b"a", b"1"))
    with cache.read() as r:
        v = r.get(b"a")
        views = [o for o in gc.get_objects() if isinstance(o, memoryview)]
        assert v in views and max(o.nbytes for o in views) < 1 << 40
    gc.collect()


def test_read_outside_with_is_an_error(cache):
    r = cache.read()
    with pytest.raises(ValueError, match="not begun"):
        r.get(b"a")
    with r:
        pass
    with pytest.raises(ValueError):
        r.__enter__()


def test_scan_prefix_in_byte_order_across_chunks(cache):
    entries = {b"u:%05d" % i: b"v%d" % i for i in range(1000)}
    entries.update({b"u;": b"after", b"u": b"shorter", b"t\xff": b"before", b"u:\xff": b"high"})
    applied(cache, cache.set_multi(entries))
    with cache.read() as r:
        got = [(bytes(k), bytes(v)) for k, v in r.scan(b"u:")]
        everything = [bytes(k) for k, _ in r.scan()]
    assert got == sorted((k, v) for k, v in entries.items() if k.startswith(b"u:"))
    assert everything == sorted(entries)


def test_threads_share_one_cache(cache):
    """Readers in several threads see whole batches while a writer thread writes."""
    keys = [b"t:%d" % i for i in range(8)]
    applied(cache, cache.set_multi({k: b"0" for k in keys}))
    errors = []
    stop = threading.Event()

    def writer():
        try:
            for n in range(1, 41):
                applied(cache, cache.set_multi({k: b"%d" % n for k in keys}))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            stop.set()

    def reader():
        try:
            while not stop.is_set():
                cache.update()
                with cache.read() as r:
                    values = {bytes(r.get(k)) for k in keys}
                assert len(values) == 1, f"a read saw part of a batch: {values}"
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader)
                                                   for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert cache.get(keys[0]) == b"40"


def test_a_read_is_used_on_its_own_thread_only(cache):
    applied(cache, cache.set(b"a", b"1"))
    outcome = []
    with cache.read() as r:
        t = threading.Thread(target=lambda: outcome.append(_try(lambda: r.get(b"a"))))
        t.start()
        t.join(30)
        assert bytes(r.get(b"a")) == b"1"
    assert isinstance(outcome[0], RuntimeError)


def _try(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return e


def test_snapshot_create_verify_restore(cache, paths):
    applied(cache, cache.set_multi({b"s:%d" % i: b"%d" % i for i in range(100)}))
    path = str(paths["dir"] / "snap")
    info = cache.create_snapshot(path)
    assert info["key_count"] == 100 and info["applied_id"] == cache.applied_id
    assert whycache.verify_snapshot(path)["key_count"] == 100
    other = str(paths["dir"] / "other.state")
    with whycache.Cache(other, paths["log"]) as fresh:
        assert fresh.restore_snapshot(path)["key_count"] == 100
        assert fresh.get(b"s:42") == b"42"


def test_compaction_keeps_meaning(cache):
    for n in range(5):
        cache.set(b"c", b"%d" % n)
    last = applied(cache, cache.delete(b"c"))
    result = cache.compact(tombstone_retention_s=0)
    assert result["removed"] >= 4 and set(result) >= {"kept", "horizon", "bytes_before"}
    assert cache.get(b"c") is None and cache.applied_id == last
    assert cache.check_against_log() == ""


def test_closed_cache_refuses_calls(paths):
    c = whycache.Cache(paths["state"], paths["log"], create_if_missing=True)
    c.close()
    c.close()
    for call in (lambda: c.get(b"a"), c.update, lambda: c.set(b"a", b"b"), c.read):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_close_while_other_threads_update(paths):
    """update() runs without the GIL; close() meanwhile must not destroy the cache under it."""
    c = whycache.Cache(paths["state"], paths["log"], create_if_missing=True, poll_interval_ms=0)
    running = threading.Barrier(4)
    outcomes = []

    def spin():
        running.wait(30)
        for _ in range(1_000_000):
            try:
                c.update()
            except ValueError:
                outcomes.append("closed")
                return
        outcomes.append("never closed")

    threads = [threading.Thread(target=spin) for _ in range(3)]
    for t in threads:
        t.start()
    running.wait(30)
    c.close()
    c.close()
    for t in threads:
        t.join(120)
    assert outcomes == ["closed"] * 3


def test_a_read_keeps_working_after_close(paths):
    c = whycache.Cache(paths["state"], paths["log"], create_if_missing=True)
    applied(c, c.set(b"a", b"kept"))
    with c.read() as r:
        c.close()
        assert bytes(r.get(b"a")) == b"kept"


# --- errors: every whycache::Error code is a whycache.Error subclass with the C++ message ---

def test_error_classes():
    for name in ("InvalidArgument", "Corruption", "Incompatible", "Unavailable", "IOError",
                 "Busy", "TimedOut"):
        cls = getattr(whycache, name)
        assert issubclass(cls, whycache.Error) and cls.__module__ == "whycache", name
    assert issubclass(whycache.Error, Exception)


def test_invalid_argument(cache):
    with pytest.raises(whycache.InvalidArgument, match="4096"):
        cache.set(b"k" * 4097, b"v")
    with pytest.raises(whycache.InvalidArgument):
        whycache.Cache("", "file:/nonexistent")
    with pytest.raises(whycache.InvalidArgument):
        whycache.Cache("/dev/shm/whycache-py-bad-uri.state", "nosuchscheme:x")
    with pytest.raises(TypeError, match="bytes, not str"):
        cache.get("text")
    with pytest.raises(TypeError):
        cache.set(b"k", 5)
    with pytest.raises(ValueError, match="fsync"):
        whycache.Cache("/dev/shm/x.state", "file:/x", fsync="sometimes")


def test_unavailable_for_a_log_never_initialized(paths):
    with pytest.raises(whycache.Unavailable, match="init"):
        whycache.Cache(paths["state"], f"file:{paths['dir'] / 'never'}")


def test_incompatible_state_of_another_dataset(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as c:
        applied(c, c.set(b"a", b"1"))
    with pytest.raises(whycache.Incompatible, match="another dataset"):
        whycache.Cache(paths["state"], f"file:{paths['dir'] / 'other'}", create_if_missing=True)


def test_corruption_of_a_snapshot(cache, paths):
    applied(cache, cache.set(b"a", b"1"))
    path = paths["dir"] / "snap"
    cache.create_snapshot(str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(whycache.Corruption):
        whycache.verify_snapshot(str(path))
    with pytest.raises(whycache.Corruption):
        cache.restore_snapshot(str(path))
    assert cache.get(b"a") == b"1"


def test_io_error_names_the_path(cache, paths):
    target = str(paths["dir"] / "no" / "such" / "dir" / "snap")
    with pytest.raises(whycache.IOError, match="no/such/dir"):
        cache.create_snapshot(target)


def test_wait_for_an_id_not_written_times_out_false(cache):
    assert cache.wait_for(cache.applied_id + 1000, 0.05) is False


def test_busy_for_a_check_below_the_horizon(paths):
    """A machine whose delete was compacted away (it is below the log's horizon) cannot be
    checked against the log until it updates: Busy, naming what to run."""
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as lagging, \
            whycache.Cache(str(paths["dir"] / "writer.state"), paths["log"]) as writer:
        lagging.update_now()
        assert lagging.wait_for(writer.set(b"q", b"v"), 30.0)
        writer.delete(b"q")
        writer.compact(tombstone_retention_s=0)
        with pytest.raises(whycache.Busy, match="whycache update"):
            lagging.check_against_log()
        lagging.update_now()
        assert lagging.check_against_log() == "" and b"q" not in lagging


def test_stat_prefixes_count_this_process_and_the_machine(paths, cache):
    present = {b"sp:flag:a": b"1", b"sp:flag:b": b"2", b"sp:perm:1": b"3", b"other": b"4"}
    applied(cache, cache.set_multi(present))
    prefixes = [b"sp:flag:", b"sp:"]
    expected = {p: [0, 0] for p in prefixes}

    def count(key):
        for p in prefixes:
            if key.startswith(p):
                expected[p][0 if key in present else 1] += 1

    with whycache.Cache(paths["state"], paths["log"], stat_prefixes=prefixes) as counting:
        for key in [b"sp:flag:a", b"sp:flag:a", b"sp:flag:zz", b"sp:perm:1", b"sp:x", b"other", b"s"]:
            assert (counting.get(key) is not None) == (key in present)
            count(key)
        # Every read of the process counts: through another Cache and a read transaction too.
        with cache.read() as r:
            for key in [bytearray(b"sp:flag:b"), b"sp:nope"]:
                assert (r.get(key) is not None) == (bytes(key) in present)
                count(bytes(key))
        figures = counting.stats()["prefixes"]
        assert [f["prefix"] for f in figures] == prefixes
        for f in figures:
            want = expected[f["prefix"]]
            assert [f["process_hits"], f["process_misses"]] == want, f
            assert [f["machine_hits"], f["machine_misses"]] == want, f
    # A Cache that counts nothing shows the machine's figures, which outlive the counting Cache.
    machine = [(f["prefix"], f["machine_hits"], f["machine_misses"]) for f in cache.stats()["prefixes"]]
    assert machine == [(p, *expected[p]) for p in prefixes]


@pytest.mark.parametrize("prefixes, error", [
    ([b""], whycache.InvalidArgument),
    ([b"x", b"x"], whycache.InvalidArgument),
    ([b"p%d" % i for i in range(33)], whycache.InvalidArgument),
    ([b"k" * (whycache.MAX_KEY_BYTES + 1)], whycache.InvalidArgument),
    (b"sp:", TypeError),
    (["sp:"], TypeError),
])
def test_bad_stat_prefixes_are_refused(paths, prefixes, error):
    with pytest.raises(error):
        whycache.Cache(paths["state"], paths["log"], create_if_missing=True, stat_prefixes=prefixes)
    assert not os.path.exists(paths["state"] + ".read-stats")
