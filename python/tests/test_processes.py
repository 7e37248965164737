"""Processes: a writer process and a reader process, and a Cache opened before fork()."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import whycache
from conftest import run_in_child

WRITER = textwrap.dedent("""
    import json, os, sys, whycache
    state, log = sys.argv[1], sys.argv[2]
    with whycache.Cache(state, log) as c:
        written = {}
        last = 0
        for i in range(50):
            key, value = os.urandom(8) + b"\\x00w", os.urandom(100)
            last = c.set(key, value)
            written[key.hex()] = value.hex()
        print(json.dumps({"last": last, "written": written}))
""")


def run_writer(state, log):
    """Runs WRITER in a process of its own; returns its own record of what it wrote."""
    done = subprocess.run([sys.executable, "-c", WRITER, state, log], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    return record["last"], {bytes.fromhex(k): bytes.fromhex(v)
                            for k, v in record["written"].items()}


def update_until(cache, update_id, seconds=60.0):
    """Calls update() as a service would before each request, until `update_id` is applied."""
    deadline = time.monotonic() + seconds
    while cache.applied_id < update_id and time.monotonic() < deadline:
        cache.update()
        time.sleep(0.001)
    return cache.applied_id >= update_id


def test_one_process_writes_another_reads_after_update(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True,
                        poll_interval_ms=5) as reader:
        # The writer has a state file of its own: it shares only the log with the reader.
        last, written = run_writer(str(paths["dir"] / "writer.state"), paths["log"])
        assert update_until(reader, last)
        for k, v in written.items():
            assert reader.get(k) == v
        assert reader.stats()["keys"] == len(written)


def test_processes_of_a_machine_share_the_state(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as reader:
        last, written = run_writer(paths["state"], paths["log"])
        assert reader.wait_for(last, 60.0)
        with reader.read() as r:
            assert {bytes(k): bytes(v) for k, v in r.scan()} == written


def test_cache_opened_before_fork_works_in_children(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True,
                        poll_interval_ms=5) as cache:
        assert cache.wait_for(cache.set(b"before", b"fork"), 30.0)

        def child(n):
            def body():
                assert cache.get(b"before") == b"fork"
                with cache.read() as r:
                    assert bytes(r.get(b"before")) == b"fork"
                own = cache.set(b"child:%d" % n, b"%d" % n)
                return cache.wait_for(own, 30.0) and cache.get(b"child:%d" % n) == b"%d" % n
            return body

        assert [run_in_child(child(n)) for n in range(3)] == [0, 0, 0]
        assert cache.update_now() >= 4
        for n in range(3):
            assert cache.get(b"child:%d" % n) == b"%d" % n


def test_a_read_open_across_fork_is_unusable_in_therun_in_child(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as cache:
        assert cache.wait_for(cache.set(b"k", b"parent"), 30.0)
        with cache.read() as r:
            view = r.get(b"k")

            def body():
                for use in (lambda: r.get(b"k"), view.tobytes):
                    with pytest.raises(ValueError):
                        use()
                with cache.read() as mine:
                    return bytes(mine.get(b"k")) == b"parent"

            assert run_in_child(body) == 0
            # The parent's read and view are untouched.
            assert bytes(view) == b"parent" and bytes(r.get(b"k")) == b"parent"
