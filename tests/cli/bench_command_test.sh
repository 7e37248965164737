#!/bin/bash
# Runs `whycache bench --smoke` (tiny data sets) as JSON and as a table: every row of the suite
# is there with every figure finite and positive, the report names the build and the machine,
# a build without optimisation warns first, the written values are incompressible, the fsync
# row ran on the disk directory given, --plot draws its PNGs, the MySQL rows say how to measure
# them, the temporary directory is gone afterwards, and bad arguments are usage errors.
set -u

WHYCACHE="$1"
# Under Bazel's per-test directory, else $TMPDIR.
WORK="$(mktemp -d -p "${TEST_TMPDIR:-}" cli-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
FAILURES=0

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# The MySQL rows are measured only with a mysql:// log; the test passes none.
unset WHYCACHE_LOG WHYCACHE_STATE

"$WHYCACHE" bench --smoke --json --dir "$WORK" >"$WORK/json" 2>"$WORK/err" ||
  fail "bench --smoke --json exited $?: $(cat "$WORK/err")"
# What the fsync row's directory is on, as stat names it ("tmpfs", "ext2/ext3", ...).
WORK_FS="$(stat -f -c %T "$WORK")"
python3 - "$WORK/json" "$WORK" "$WORK_FS" <<'PY' || fail "the JSON report is incomplete or wrong"
import json, math, os, re, sys

with open(sys.argv[1]) as f:
    text = f.read()
report = json.loads(text)
errors = []

def check(condition, message):
    if not condition:
        errors.append(message)

def positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0

point_get = ["tree_ns", "tree_txn10_ns", "unordered_map_ns", "lmdb_ns", "lmdb_renew_ns",
             "lmdb_renew_txn10_ns", "tree_vs_unordered_map", "tree_txn10_vs_unordered_map",
             "tree_vs_lmdb", "tree_vs_lmdb_renew", "tree_txn10_vs_lmdb_renew_txn10",
             "tree_state_bytes_per_key", "tree_wall_ns", "tree_txn10_wall_ns",
             "unordered_map_wall_ns", "lmdb_wall_ns", "lmdb_renew_wall_ns",
             "lmdb_renew_txn10_wall_ns", "keys", "value_bytes", "gets_per_txn_batched",
             "gets_per_repetition", "repetitions"] + [
                 "%s_%s_ns" % (store, p) for store in ("tree", "unordered_map", "lmdb", "lmdb_renew")
                 for p in ("p50", "p90", "p99", "p999")]
measured = {
    "point_get_100B": point_get,
    "point_get_16B": point_get,
    "cache_get": ["cache_ns", "tree_ns", "overhead_pct", "cache_wall_ns", "tree_wall_ns",
                  "keys", "repetitions"],
    "snapshot": ["create_MBps", "restore_MBps", "file_bytes", "raw_bytes", "file_per_raw",
                 "keys", "repetitions"],
    "update_not_due": ["ns", "wall_ns", "calls_per_repetition", "repetitions"],
    "apply_file": ["mutations_per_s", "mutations_per_cpu_s", "mutations", "repetitions"],
    "update_due_nothing_new_file": ["us", "wall_us", "calls_per_repetition", "repetitions"],
    "replication_lag_file": ["p50_ms", "p99_ms", "samples", "poll_interval_ms"],
    "file_log_append": ["keys_per_s", "us_per_batch", "batches_per_repetition", "repetitions"],
    "file_log_tail": ["mutations_per_s", "mutations", "repetitions"],
    "compaction": ["mutations_per_s", "bytes_before", "bytes_after", "mutations", "keys",
                   "repetitions"],
}
# A difference of two medians: noise may make it zero or negative.
signed = {("cache_get", "overhead_pct")}

check(report.get("mode") == "smoke", "mode is %r" % report.get("mode"))
check(report.get("command") == "whycache bench --smoke --json --dir " + sys.argv[2],
      "command is %r" % report.get("command"))
check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(report.get("date"))),
      "date is %r" % report.get("date"))
build = report.get("build", {})
check(build.get("mode") in ("opt", "fastbuild", "opt-with-asserts", "asan", "tsan") and
      build.get("optimized") is (build.get("mode") == "opt") and build.get("compiler"),
      "build is %r" % build)
machine = report.get("machine", {})
check(machine.get("cpu_model") and machine.get("kernel") and positive(machine.get("cores")) and
      positive(machine.get("memory_bytes")), "machine is %r" % machine)
check(report.get("filesystem"), "filesystem is %r" % report.get("filesystem"))
check(isinstance(report.get("repetitions"), int) and report["repetitions"] >= 2,
      "repetitions is %r" % report.get("repetitions"))
check(positive(report.get("seconds")), "seconds is %r" % report.get("seconds"))
for when in ("before", "after"):
    load = report.get("load_average", {}).get(when)
    check(isinstance(load, list) and len(load) == 3 and
          all(math.isfinite(x) and x >= 0 for x in load), "load_average.%s is %r" % (when, load))
check(not os.path.exists(report.get("directory", "")),
      "the temporary directory %r is still there" % report.get("directory"))

for section, fields in measured.items():
    s = report.get(section)
    if not isinstance(s, dict):
        errors.append("no section " + section)
        continue
    check(s.get("measured") is True, section + " is not measured")
    for field in fields:
        value = s.get(field)
        if (section, field) in signed:
            check(isinstance(value, (int, float)) and math.isfinite(value),
                  "%s.%s is %r" % (section, field, value))
        else:
            check(positive(value), "%s.%s is %r" % (section, field, value))

p = report.get("replication_lag_file", {})
check(p.get("p50_ms", 0) <= p.get("p99_ms", -1), "lag p50 above p99: %r" % p)
check(len(p.get("samples_ms", [])) == p.get("samples") and all(map(positive, p["samples_ms"])),
      "the lag samples are not all there: %r" % p)
c = report.get("compaction", {})
check(c.get("bytes_after", 0) < c.get("bytes_before", 0), "compaction did not shrink: %r" % c)
check(report.get("snapshot", {}).get("keys") == report.get("cache_get", {}).get("keys"),
      "the snapshot is not of the machine the gets ran on")
# Random values: a snapshot cannot shrink them (keys are a sixth of the bytes).
check(report.get("snapshot", {}).get("file_per_raw", 0) > 0.8,
      "the snapshot compressed the values: %r" % report.get("snapshot"))
a = report.get("file_log_append", {})
if sys.argv[3] != "tmpfs":
    check(a.get("directory") == sys.argv[2] and a.get("filesystem") not in ("tmpfs", "ramfs")
          and a.get("title", "").endswith(" in " + sys.argv[2]),
          "the fsync row did not run in the disk directory given, or hides it: %r" % a)
check(str(a.get("filesystem")) in a.get("title", ""), "the fsync row's title hides where: %r" % a)

for section in ("apply_mysql", "update_due_nothing_new_mysql", "replication_lag_mysql"):
    s = report.get(section, {})
    check(s.get("measured") is False and "--log mysql://" in s.get("note", ""),
          "%s should say how to measure it: %r" % (section, s))
    check(set(s) == {"title", "measured", "note"},
          "%s carries figures it did not measure" % section)

for e in errors:
    print("FAIL:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

"$WHYCACHE" bench --smoke --dir "$WORK" >"$WORK/table" 2>"$WORK/err" ||
  fail "bench --smoke exited $?: $(cat "$WORK/err")"
# A build without optimisation says so before anything else, in the table and on stderr.
if grep -q '"optimized":false' "$WORK/json"; then
  head -1 "$WORK/table" | grep -q "^WARNING: .*not an optimised one" ||
    fail "the table of an unoptimised build does not start with a warning: $(head -3 "$WORK/table")"
  head -1 "$WORK/err" | grep -q "^WARNING: " ||
    fail "an unoptimised build does not warn on stderr: $(cat "$WORK/err")"
else
  grep -q "WARNING" "$WORK/table" "$WORK/err" && fail "an optimised build warns"
fi
for row in "get, 2,000 keys x 100 B" "tree 10/txn" "LMDB begin/abort" "LMDB renew 10/txn" \
  "get via Cache vs tree" "Update(), no poll due" "replication lag A->B, file" \
  "fsync on" "not measured: pass --log mysql://" "compaction" "build (g++"; do
  grep -qF -- "$row" "$WORK/table" || fail "the table lacks [$row]: $(cat "$WORK/table")"
done
[[ -z "$(ls -A "$WORK" | grep whycache-bench)" ]] || fail "bench left its directory in $WORK"

# --plot DIR: three PNGs with gnuplot, or, without gnuplot, a refusal before the run that says
# what to install.
if command -v gnuplot >/dev/null; then
  "$WHYCACHE" bench --smoke --dir "$WORK" --plot "$WORK/plots" >/dev/null 2>"$WORK/err" ||
    fail "bench --smoke --plot exited $?: $(cat "$WORK/err")"
  for png in bench-read-latency.png bench-replication-lag.png bench-throughput.png; do
    [[ "$(head -c 4 "$WORK/plots/$png" 2>/dev/null | tail -c 3)" == PNG ]] ||
      fail "bench --plot did not write $png: $(ls "$WORK/plots" 2>&1)"
    grep -qF "wrote $WORK/plots/$png" "$WORK/err" || fail "bench --plot did not name $png"
  done
else
  PATH=/nonexistent "$WHYCACHE" bench --smoke --dir "$WORK" --plot "$WORK/plots" \
    >/dev/null 2>"$WORK/err"
  status=$?
  [[ $status == 6 ]] && grep -q "gnuplot-nox" "$WORK/err" ||
    fail "bench --plot without gnuplot exited $status: $(cat "$WORK/err")"
fi

"$WHYCACHE" bench --help >"$WORK/help" 2>&1 || fail "bench --help exited $?"
grep -q -- "--quick" "$WORK/help" && grep -q "^  whycache bench --quick" "$WORK/help" ||
  fail "bench --help does not describe the options: $(cat "$WORK/help")"
"$WHYCACHE" bench --quick --smoke >/dev/null 2>"$WORK/err"
[[ $? == 2 ]] || fail "bench --quick --smoke should be a usage error"
"$WHYCACHE" bench extra >/dev/null 2>"$WORK/err"
[[ $? == 2 ]] || fail "bench with an argument should be a usage error"

[[ $FAILURES -eq 0 ]] || exit 1
echo "all checks passed"
