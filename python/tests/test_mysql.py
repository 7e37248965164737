"""whycache.Cache and WhycacheInstance on the MySQL log (a throwaway MariaDB server)."""
import asyncio
import os
import random
import subprocess
import sys
import textwrap
import time

import pytest

import whycache
from test_subscribe import PREFIXES, Recorder, check, write_random


@pytest.fixture
def state(paths):
    return paths["state"]


def open_cache(state, uri, **options):
    return whycache.Cache(state, uri, create_if_missing=True, **options)


def test_set_get_binary_on_mysql(state, mysql_uri):
    entries = {b"\x00k\xff": b"\x00\x01\x02", b"empty": b"", b"big": os.urandom(1 << 20),
               bytes(range(256)): bytes(range(255, -1, -1))}
    with open_cache(state, mysql_uri) as c:
        last = c.set_multi(entries)
        assert c.wait_for(last, 60.0)
        for k, v in entries.items():
            assert c.get(k) == v
        d = c.write([(b"empty", None), (b"new", b"n")])
        assert c.update_now() == d
        with c.read() as r:
            got = {bytes(k): bytes(v) for k, v in r.scan()}
        expected = {k: v for k, v in entries.items() if k != b"empty"}
        expected[b"new"] = b"n"
        assert got == expected
        assert c.check_against_log() == ""


def test_prefix_deletes_on_mysql(state, mysql_uri):
    prefix = b"\x00p\xff:"
    written = {prefix + b"1": b"1", prefix + b"\x00": b"2", prefix: b"self", b"\x00p\xff": b"short",
               b"\x00p\xfe:1": b"other"}
    with open_cache(state, mysql_uri) as c:
        assert c.wait_for(c.set_multi(written), 60.0)
        assert c.wait_for(c.erase_prefix(prefix), 60.0)
        with c.read() as r:
            got = {bytes(k): bytes(v) for k, v in r.scan()}
        assert got == {k: v for k, v in written.items() if not k.startswith(prefix)}
        assert c.wait_for(c.write([(b"\x00p", whycache.ERASE_PREFIX), (b"\x00p:new", b"n")]),
                          60.0)
        with c.read() as r:
            assert [(bytes(k), bytes(v)) for k, v in r.scan()] == [(b"\x00p:new", b"n")]
        with pytest.raises(whycache.InvalidArgument, match="empty one would delete every key"):
            c.erase_prefix(b"")
        assert c.check_against_log() == ""



def test_subscribers_are_notified_on_mysql(state, mysql_uri):
    with open_cache(state, mysql_uri) as c:
        start = c.set(b"init", b"")
        assert c.wait_for(start, 60.0)
        recorders = {p: Recorder() for p in PREFIXES}
        for p, r in recorders.items():
            c.subscribe(p, r)
        written = write_random(c, random.Random(11), 25)
        end = c.update_now()
        assert end == max(written)
        for p, r in recorders.items():
            check(p, r.take(), written, start, end)


WRITER = textwrap.dedent("""
    import json, os, sys, whycache
    with whycache.Cache(sys.argv[1], sys.argv[2]) as c:
        written, last = {}, 0
        for i in range(30):
            key, value = os.urandom(6) + b"\\x00", os.urandom(100)
            last = c.set(key, value)
            written[key.hex()] = value.hex()
        print(json.dumps({"last": last, "written": written}))
""")


def test_one_process_writes_another_reads_after_update(paths, mysql_uri):
    import json
    with open_cache(paths["state"], mysql_uri, poll_interval_ms=5) as reader:
        done = subprocess.run([sys.executable, "-c", WRITER, str(paths["dir"] / "w.state"),
                               mysql_uri], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        deadline = time.monotonic() + 60
        while reader.applied_id < record["last"] and time.monotonic() < deadline:
            reader.update()
            time.sleep(0.001)
        assert reader.applied_id >= record["last"]
        for k, v in record["written"].items():
            assert reader.get(bytes.fromhex(k)) == bytes.fromhex(v)


def test_prototype_api_on_mysql(paths, mysql_uri):
    inst = whycache.WhycacheInstance(state_path=paths["state"], log_uri=mysql_uri,
                                     create_if_missing=True)

    async def scenario():
        a = await inst.set(b"cfg", {"limit": 10})
        b = await inst.set_multi({b"x": 1, b"y": [2]})
        c = await inst.delete(b"x")
        await inst.update()
        return a, b, c

    a, b, c = asyncio.run(scenario())
    assert a < b < c
    assert inst.get(b"cfg") == {"limit": 10} and inst.get(b"y") == [2]
    with pytest.raises(KeyError):
        inst.get(b"x")
    assert asyncio.run(inst.rewrite_history(c)) is None
    assert dict(inst.items()) == {b"cfg": {"limit": 10}, b"y": [2]}
    inst.close_shared_state()


def test_unavailable_when_the_server_cannot_be_reached(paths, mariadb):
    uri = f"mysql://{mariadb['MDB_USER']}@127.0.0.1:1/{mariadb['MDB_DB']}?table=nowhere"
    with pytest.raises(whycache.Unavailable):
        whycache.Cache(paths["state"], uri, create_if_missing=True, reconnect_budget_ms=200)


def test_invalid_argument_for_a_malformed_mysql_uri(paths):
    with pytest.raises(whycache.InvalidArgument):
        whycache.Cache(paths["state"], "mysql://no-database-part", create_if_missing=True)



def test_cache_opened_before_fork_serves_children_writing_at_once(state, mysql_uri):
    """Pre-fork servers: children write and read through the parent's Cache at the same time
    as the parent, each on a connection of its own, and the parent's stays intact."""
    import traceback
    with open_cache(state, mysql_uri, poll_interval_ms=5) as cache:
        assert cache.wait_for(cache.set(b"before", b"fork"), 60.0)
        pids = []
        for n in range(3):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    ok = True
                    for i in range(20):
                        key = b"child:%d:%d" % (n, i)
                        ok = ok and cache.wait_for(cache.set(key, b"%d" % i), 60.0)
                        ok = ok and cache.get(key) == b"%d" % i
                    code = 0 if ok else 3
                except BaseException:  # noqa: BLE001 - reported through the exit status
                    traceback.print_exc()
                    code = 2
                finally:
                    os._exit(code)
            pids.append(pid)
        for i in range(20):
            assert cache.wait_for(cache.set(b"parent:%d" % i, b"%d" % i), 60.0)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        assert codes == [0, 0, 0]
        assert cache.wait_for(cache.set(b"after", b"children"), 60.0)
        assert len(cache) == 2 + 4 * 20
