"""Point reads from Python: whycache against what a Python service would use instead.

A dict (in-process, not shared) and LMDB through py-lmdb (shared, memory-mapped), on the same
keys in the same random order, in the same run. Each figure is the median over the rounds of
the CPU time per call, loop included; the ratios are of those medians.

    bazel run --config=opt //python:bench -- [--keys N] [--rounds R]
"""
import argparse
import os
import random
import shutil
import statistics
import tempfile
import time

import lmdb

import whycache


def per_call_ns(loop, calls):
    # CPU time of this process rather than wall time: on a machine shared with other work, the
    # time this process waits for a core is not the cost of the call.
    start = time.process_time_ns()
    loop()
    return (time.process_time_ns() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--update-calls", type=int, default=1_000_000)
    args = parser.parse_args()

    rng = random.Random(20)
    keys = [b"user:%08d:perm" % i for i in range(args.keys)]
    data = {k: rng.randbytes(args.value_bytes) for k in keys}
    order = keys[:]
    rng.shuffle(order)
    # Lookups with keys equal to, but not the same objects as, the stored ones: as a request
    # handler would have them.
    lookups = [bytes(bytearray(k)) for k in order]

    work = tempfile.mkdtemp(prefix="whycache-pybench-")
    shm = tempfile.mkdtemp(prefix="whycache-pybench-", dir="/dev/shm")
    try:
        cache = whycache.Cache(os.path.join(shm, "bench.state"), f"file:{work}/log",
                               create_if_missing=True, fsync="never", poll_interval_ms=60_000)
        for i in range(0, len(keys), 20_000):
            cache.set_multi({k: data[k] for k in keys[i:i + 20_000]})
        cache.update_now()
        cache.update()  # Claims the first due poll: later calls find none due for a minute.
        env = lmdb.open(os.path.join(work, "lmdb"), map_size=1 << 30, sync=False)
        with env.begin(write=True) as txn:
            for k in keys:
                txn.put(k, data[k])
        assert all(cache.get(k) == data[k] for k in order[:1000])
        with cache.read() as r:
            assert all(bytes(r.get(k)) == data[k] for k in order[:1000])

        n = len(lookups)
        d = dict(data)

        def dict_get():
            get = d.get
            for k in lookups:
                get(k)

        def lmdb_txn_per_get():
            begin = env.begin
            for k in lookups:
                with begin(buffers=True) as txn:
                    txn.get(k)

        def lmdb_one_txn():
            with env.begin(buffers=True) as txn:
                get = txn.get
                for k in lookups:
                    get(k)

        def cache_get():
            get = cache.get
            for k in lookups:
                get(k)

        def read_get():
            with cache.read() as r:
                get = r.get
                for k in lookups:
                    get(k)

        def empty_loop():
            for k in lookups:
                pass

        calls = args.update_calls

        def update():
            u = cache.update
            for _ in range(calls):
                u()

        def empty_update_loop():
            for _ in range(calls):
                pass

        cases = [("dict.get", dict_get, n), ("py-lmdb get, txn per get", lmdb_txn_per_get, n),
                 ("py-lmdb get, one txn", lmdb_one_txn, n), ("cache.get (bytes copy)", cache_get, n),
                 ("r.get in one cache.read()", read_get, n), ("empty loop over the keys", empty_loop, n),
                 ("cache.update(), no poll due", update, calls),
                 ("empty loop, same count", empty_update_loop, calls)]
        samples = {name: [] for name, _, _ in cases}
        polls_before = cache.stats()["polls"]
        for _ in range(args.rounds):
            for name, loop, count in cases:
                samples[name].append(per_call_ns(loop, count))
        med = {name: statistics.median(v) for name, v in samples.items()}
        assert cache.stats()["polls"] == polls_before, "a poll ran during the update() measurement"

        print(f"{args.keys} keys, {args.value_bytes}-byte random values, random order; "
              f"median of {args.rounds} rounds, CPU ns per call (loop included)")
        for name, _, _ in cases:
            print(f"  {name:32s} {med[name]:8.1f}")
        print("ratios of medians (target):")
        ratio1 = med["cache.get (bytes copy)"] / med["py-lmdb get, txn per get"]
        ratio2 = med["r.get in one cache.read()"] / med["dict.get"]
        print(f"  cache.get / py-lmdb txn per get  {ratio1:6.2f}  (<= 0.5)")
        print(f"  r.get / dict.get                 {ratio2:6.2f}  (<= 1.5)")
        print(f"  cache.update() ns                {med['cache.update(), no poll due']:6.1f}  "
              f"(<= 150; {med['cache.update(), no poll due'] - med['empty loop, same count']:.1f} "
              f"without the loop)")
        cache.close()
        env.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


if __name__ == "__main__":
    main()
