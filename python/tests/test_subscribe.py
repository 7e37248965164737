"""Cache.subscribe: notices of what changed under a prefix, checked against the writes the tests
made, in this process and in another one that only reads."""
import gc
import json
import os
import random
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest

import whycache

# Keys and prefix deletes are drawn from here, so that prefixes nest and neighbour each other.
KEYS = [b"user", b"user:", b"user:4", b"user:42", b"user:42:x", b"user:5", b"user:\x00",
        b"us", b"usfx", b"group:1", b"group:2", b"\xff"]
ERASED = [b"user:", b"user:4", b"user:42", b"us", b"group:", b"user:42:x:deeper"]
PREFIXES = [b"", b"user:", b"user:4", b"us", b"group:", b"nothing:"]


class Recorder:
    """A callback that keeps the notices it was given."""

    def __init__(self):
        self.notices = []

    def __call__(self, notice):
        self.notices.append(notice)

    def take(self):
        taken, self.notices = self.notices, []
        return taken


def applied(cache, update_id):
    assert cache.wait_for(update_id, 30.0), f"update {update_id} not applied"
    return update_id


def write_random(cache, rng, count):
    """Appends `count` batches through every write method. Returns {update id: [(op, key)]},
    op "set", "delete" or "erase": the test's own record of what it wrote."""
    written = {}
    for _ in range(count):
        kind = rng.randrange(6)
        if kind == 0:
            key = rng.choice(KEYS)
            written[cache.set(key, b"v")] = [("set", key)]
        elif kind == 1:
            keys = rng.sample(KEYS, rng.randrange(1, 5))
            written[cache.set_multi({k: b"m" for k in keys})] = [("set", k) for k in keys]
        elif kind == 2:
            key = rng.choice(KEYS)
            written[cache.delete(key)] = [("delete", key)]
        elif kind == 3:
            keys = rng.sample(KEYS, rng.randrange(1, 4))
            written[cache.delete_multi(keys)] = [("delete", k) for k in keys]
        elif kind == 4:
            prefix = rng.choice(ERASED)
            written[cache.erase_prefix(prefix)] = [("erase", prefix)]
        else:
            ops, record = [], []
            for _ in range(rng.randrange(1, 6)):
                choice = rng.randrange(3)
                if choice == 0:
                    key = rng.choice(KEYS)
                    ops.append((key, b"w"))
                    record.append(("set", key))
                elif choice == 1:
                    key = rng.choice(KEYS)
                    ops.append((key, None))
                    record.append(("delete", key))
                else:
                    prefix = rng.choice(ERASED)
                    ops.append((prefix, whycache.ERASE_PREFIX))
                    record.append(("erase", prefix))
            written[cache.write(ops)] = record
    return written


def expected(prefix, written, after_id, last_id):
    """The notice for `prefix` of the updates (after_id, last_id] of `written`, or None when they
    changed nothing under it."""
    changes = [c for update_id in sorted(written) if after_id < update_id <= last_id
               for c in written[update_id]]
    keys = sorted({k for op, k in changes if op != "erase" and k.startswith(prefix)})
    erased = [k for op, k in changes
              if op == "erase" and (k.startswith(prefix) or prefix.startswith(k))]
    if not keys and not erased:
        return None
    return whycache.ChangeNotice(after_id, last_id, False, keys, erased)


def check(prefix, notices, written, start, end):
    """The notices of a subscriber to `prefix` while the updates (start, end] were applied:
    each lists exactly what its updates changed under the prefix, and the updates between them
    changed nothing there."""
    at = start
    for n in notices:
        assert at <= n.after_id < n.last_id <= end, (n, at, end)
        assert expected(prefix, written, at, n.after_id) is None, (prefix, at, n)
        assert n == expected(prefix, written, n.after_id, n.last_id), prefix
        at = n.last_id
    assert expected(prefix, written, at, end) is None, (prefix, at, end, notices)


@pytest.fixture
def other(paths, cache):
    """A second Cache of the same machine (the same state file), which applies what the
    subscriber's update() then reports."""
    with whycache.Cache(paths["state"], paths["log"]) as c:
        yield c


def test_notices_list_exactly_the_keys_changed_under_each_prefix(cache, other):
    # A state's first fill is a change the journal cannot list: it happens before subscribing.
    start = applied(cache, cache.set(b"init", b""))
    recorders = {p: Recorder() for p in PREFIXES}
    for p, r in recorders.items():
        cache.subscribe(p, r)
    rng = random.Random(20240611)
    written = {}
    called = {p: 0 for p in PREFIXES}
    for round_number in range(30):
        how = ("update_now", "wait_for", "update")[round_number % 3]
        writer = cache if how != "update" else other
        if round_number % 5 == 4:  # A round that changes nothing under user: or us.
            key = b"group:%d" % round_number
            batch = {writer.set(key, b"g"): [("set", key)]}
        else:
            batch = write_random(writer, rng, rng.randrange(1, 6))
        written.update(batch)
        end = max(batch)
        if how == "update_now":
            assert cache.update_now() == end
        elif how == "wait_for":
            assert cache.wait_for(end, 30.0)
        else:
            assert other.update_now() == end
            cache.update()  # Applies nothing: it only reports what `other` applied.
        for p, r in recorders.items():
            notices = r.take()
            check(p, notices, written, start, end)
            called[p] += len(notices)
        start = end
    assert called[b""] == 30 and called[b"nothing:"] == 0
    assert 0 < called[b"us"] < 30 and 0 < called[b"user:4"]


READER = textwrap.dedent("""
    import json, sys, whycache
    state, prefixes = sys.argv[1], [bytes.fromhex(p) for p in sys.argv[2:]]
    # No log: this process applies nothing; it only reads the state the machine shares.
    with whycache.Cache(state, "") as cache:
        got = {p.hex(): [] for p in prefixes}
        for p in prefixes:
            cache.subscribe(p, lambda n, p=p: got[p.hex()].append(
                [n.after_id, n.last_id, n.reload, [k.hex() for k in n.keys],
                 [e.hex() for e in n.erased_prefixes]]))
        print("subscribed", flush=True)
        sys.stdin.readline()  # The writer has applied its updates.
        cache.update()
        print(json.dumps(got), flush=True)
""")


def test_a_process_that_only_reads_is_notified_of_what_another_applied(paths):
    with whycache.Cache(paths["state"], paths["log"], create_if_missing=True) as writer:
        start = applied(writer, writer.set(b"init", b""))  # The state file the reader opens.
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, paths["state"]] + [p.hex() for p in PREFIXES],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ))
        try:
            assert reader.stdout.readline() == "subscribed\n", reader.stderr.read()
            written = write_random(writer, random.Random(5), 40)
            end = writer.update_now()
            assert end == max(written)
            out, err = reader.communicate("applied\n", timeout=120)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
        assert reader.returncode == 0, err
        got = json.loads(out)
        for p in PREFIXES:
            notices = [whycache.ChangeNotice(a, b, reload, [bytes.fromhex(k) for k in keys],
                                             [bytes.fromhex(e) for e in erased])
                       for a, b, reload, keys, erased in got[p.hex()]]
            check(p, notices, written, start, end)
        assert got[b"".hex()] and got[b"user:".hex()]


def test_unsubscribe_stops_calls_and_drops_the_callback(cache):
    applied(cache, cache.set(b"init", b""))
    kept, dropped = Recorder(), Recorder()
    kept_id = cache.subscribe(b"k:", kept)
    dropped_id = cache.subscribe(b"k:", dropped)
    gone = weakref.ref(dropped)
    assert kept_id != dropped_id
    first = cache.set(b"k:1", b"1")
    cache.update_now()
    assert [n.keys for n in kept.take()] == [[b"k:1"]]
    assert [n.keys for n in dropped.take()] == [[b"k:1"]]
    cache.unsubscribe(dropped_id)
    del dropped
    assert gone() is None
    cache.unsubscribe(dropped_id)  # Unknown ids are ignored.
    cache.unsubscribe(kept_id + 1000)
    second = cache.set(b"k:2", b"2")
    assert cache.wait_for(second, 30.0)
    assert kept.take() == [whycache.ChangeNotice(first, second, False, [b"k:2"], [])]


def test_a_callback_may_unsubscribe_itself_and_subscribe_others(cache):
    applied(cache, cache.set(b"init", b""))
    later = Recorder()
    calls = []

    def once(notice):
        calls.append(notice.keys)
        cache.unsubscribe(own_id)
        cache.subscribe(b"k:", later)

    own_id = cache.subscribe(b"k:", once)
    cache.set(b"k:1", b"1")
    cache.update_now()
    # Subscribed during the delivery: owed only what is applied afterwards.
    assert calls == [[b"k:1"]] and later.take() == []
    cache.set(b"k:2", b"2")
    cache.update_now()
    assert calls == [[b"k:1"]] and [n.keys for n in later.take()] == [[b"k:2"]]


def test_a_callback_that_raises_breaks_neither_updates_nor_other_subscriptions(
        cache, other, monkeypatch):
    applied(cache, cache.set(b"init", b""))
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def raises(notice):
        raise ValueError(f"raised for {notice.keys}")

    def interrupts(notice):
        raise KeyboardInterrupt

    before, after = Recorder(), Recorder()
    cache.subscribe(b"k:", before)
    cache.subscribe(b"k:", raises)
    cache.subscribe(b"", interrupts)
    cache.subscribe(b"k:", after)
    for n, how in enumerate(("update_now", "wait_for", "update")):
        key = b"k:%d" % n
        if how == "update_now":
            last = cache.set(key, b"v")
            assert cache.update_now() == last
        elif how == "wait_for":
            last = cache.set(key, b"v")
            assert cache.wait_for(last, 30.0)
        else:
            last = other.set(key, b"v")
            assert other.update_now() == last
            cache.update()
        assert [x.keys for x in before.take()] == [[key]]
        assert [x.keys for x in after.take()] == [[key]]
        assert [(u.exc_type, str(u.exc_value), u.object) for u in unraisable] == [
            (ValueError, f"raised for {[key]}", raises), (KeyboardInterrupt, "", interrupts)]
        unraisable.clear()
        assert cache.get(key) == b"v"


def test_unsubscribe_waits_for_a_call_in_progress_on_another_thread(cache):
    """The callback runs on a thread inside update_now() and gives the GIL up while it waits;
    unsubscribe() on another thread must neither hold the GIL while it waits for that call (a
    deadlock) nor return before the call has."""
    applied(cache, cache.set(b"init", b""))
    entered, release = threading.Event(), threading.Event()
    order = []

    def blocking(notice):
        entered.set()
        assert release.wait(60)
        order.append("callback returned")

    sub = cache.subscribe(b"k:", blocking)
    cache.set(b"k:1", b"1")
    updater = threading.Thread(target=cache.update_now)
    updater.start()
    assert entered.wait(60)

    def unsubscribe():
        cache.unsubscribe(sub)
        order.append("unsubscribed")

    unsubscriber = threading.Thread(target=unsubscribe)
    unsubscriber.start()
    release.set()
    for t in (updater, unsubscriber):
        t.join(60)
        assert not t.is_alive()
    assert order == ["callback returned", "unsubscribed"]
    entered.clear()
    cache.set(b"k:2", b"2")
    cache.update_now()
    assert not entered.is_set()


def test_close_drops_the_callbacks(paths):
    c = whycache.Cache(paths["state"], paths["log"], create_if_missing=True)
    applied(c, c.set(b"init", b""))
    r = Recorder()
    gone = weakref.ref(r)
    c.subscribe(b"", r)
    del r
    c.close()
    assert gone() is None
    for call in (lambda: c.subscribe(b"", print), lambda: c.unsubscribe(1)):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_a_callback_that_refers_to_its_cache_does_not_keep_it_alive(paths):
    c = whycache.Cache(paths["state"], paths["log"], create_if_missing=True)
    r = Recorder()
    r.cache = c  # A cycle through the subscription.
    c.subscribe(b"", r)
    cache_gone, callback_gone = weakref.ref(c), weakref.ref(r)
    del c, r
    gc.collect()
    assert cache_gone() is None and callback_gone() is None


def test_a_callback_may_close_its_cache(cache, other):
    applied(cache, cache.set(b"init", b""))
    later = Recorder()
    cache.subscribe(b"", lambda notice: cache.close())
    cache.subscribe(b"", later)
    applied(other, other.set(b"k", b"v"))
    cache.update()
    assert later.take() == []  # Closed before its turn came.
    with pytest.raises(ValueError, match="closed"):
        cache.update()


def test_bad_subscriptions_are_refused(cache):
    with pytest.raises(TypeError, match="bytes, not str"):
        cache.subscribe("k:", print)
    with pytest.raises(TypeError, match="callable"):
        cache.subscribe(b"k:", b"not callable")


def test_any_bytes_like_prefix(cache):
    applied(cache, cache.set(b"init", b""))
    recorders = [Recorder() for _ in range(2)]
    cache.subscribe(bytearray(b"k:"), recorders[0])
    cache.subscribe(memoryview(b"xk:")[1:], recorders[1])
    cache.set_multi({b"k:1": b"1", b"j:1": b"1"})
    cache.update_now()
    assert [[n.keys for n in r.take()] for r in recorders] == [[[b"k:1"]], [[b"k:1"]]]


def test_more_than_max_notice_keys_says_reload(cache):
    start = applied(cache, cache.set(b"init", b""))
    recorders = {p: Recorder() for p in (b"", b"big:", b"edge:", b"small:")}
    for p, r in recorders.items():
        cache.subscribe(p, r)
    big = [b"big:%d" % i for i in range(whycache.MAX_NOTICE_KEYS + 1)]
    edge = [b"edge:%d" % i for i in range(whycache.MAX_NOTICE_KEYS)]
    ops = [(k, b"") for k in big + edge] + [(b"big:x", whycache.ERASE_PREFIX),
                                           (b"small:1", b""), (b"small:", whycache.ERASE_PREFIX)]
    last = cache.write(ops)
    assert cache.update_now() == last
    reload = whycache.ChangeNotice(start, last, True, [], [])
    assert recorders[b""].take() == [reload]
    assert recorders[b"big:"].take() == [reload]
    assert recorders[b"edge:"].take() == [
        whycache.ChangeNotice(start, last, False, sorted(edge), [])]
    assert recorders[b"small:"].take() == [
        whycache.ChangeNotice(start, last, False, [b"small:1"], [b"small:"])]


def test_the_notice_type(cache):
    assert whycache.ChangeNotice._fields == ("after_id", "last_id", "reload", "keys",
                                             "erased_prefixes")
    assert whycache.ChangeNotice.__module__ == "whycache"
    for name in ("subscribe", "unsubscribe"):
        assert getattr(whycache.Cache, name).__doc__
    assert whycache.ChangeNotice.__doc__ and whycache.ChangeNotice.reload.__doc__
    assert whycache.MAX_NOTICE_KEYS == 10000
