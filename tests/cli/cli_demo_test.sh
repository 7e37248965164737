#!/bin/bash
# Runs `whycache demo` briefly and checks its report: every figure it promises is there and
# plausible, every machine passed its checks, and its directory is gone afterwards (or kept
# with --keep).
set -u
source "$(dirname "$0")/cli_test_lib.sh"
cli_test_begin "$1"
# The demo makes its directory under $TMPDIR: here, so that the test can see what it leaves.
export TMPDIR="$WORK/tmp"
mkdir "$TMPDIR"

started=$SECONDS
expect_status 0 demo --seconds 2 --readers 1
((SECONDS - started < 60)) || fail "demo --seconds 2 took $((SECONDS - started)) s"
report="$WORK/report"
cp "$WORK/out" "$report"

# expect_line REGEX: one line of the report matches the extended regular expression.
expect_line() {
  grep -q -E -- "$1" "$report" || fail "the report has no line matching [$1]: $(cat "$report")"
}
number='[0-9]+(\.[0-9]+)?'
expect_line "^whycache demo in $TMPDIR/whycache-demo-"
expect_line "^  dataset     [1-9][0-9]* feature flags and permissions written"
expect_line "^  writer      [1-9][0-9]* batches, [1-9][0-9]* mutations"
for reader in A0 B0; do
  expect_line "^  reader $reader   $number M reads/s, $number M per CPU second \\(${number}% hits"
  expect_line "^  reader $reader .* update\\(\\) median $number ns, mean $number ns"
done
for machine in A B; do
  expect_line "^  machine $machine   [1-9][0-9]* polls"
  expect_line "^  lag         write -> readable on machine $machine: p50 $number ms, p99 $number ms \\([1-9][0-9]* samples"
done
expect_line "^  compaction  mid-run at update [1-9][0-9]*, while writing: removed [1-9][0-9]* mutations, kept [1-9][0-9]*; log [1-9][0-9]* -> [1-9][0-9]* bytes"
expect_line "^  log         [1-9][0-9]* bytes on disk"
expect_line "^  snapshot    of machine A at update [1-9][0-9]*: [1-9][0-9]* keys, [1-9][0-9]* bytes on disk"
expect_line "^  bootstrap   machine C restored it in $number ms, then applied 20 newer updates"
for machine in A B C; do
  expect_line "^  check       machine $machine at update [1-9][0-9]*, [1-9][0-9]* keys: structure verified, equals the log replayed"
done
expect_line "^demo ok in $number s$"

# Figures that must agree with each other: one heartbeat per batch reaches each reader.
batches=$(sed -n -E 's/^  writer      ([0-9]+) batches.*/\1/p' "$report")
for machine in A B; do
  samples=$(sed -n -E "s/^  lag .* machine $machine: .*\\(([0-9]+) samples.*/\\1/p" "$report")
  ((samples > batches / 2 && samples <= batches)) ||
    fail "machine $machine saw $samples heartbeats of $batches batches"
done
[[ -z $(ls -A "$TMPDIR") ]] || fail "demo left files behind: $(ls -A "$TMPDIR")"

# --keep leaves the directory with both machines' state files, the log and the snapshot.
expect_status 0 demo --seconds 1 --readers 1 --keep
kept=$(sed -n -E 's/^whycache demo in ([^:]+):.*/\1/p' "$WORK/out")
for file in machine-a.state machine-b.state machine-c.state machine-a.snapshot log; do
  [[ -e $kept/$file ]] || fail "demo --keep did not keep $kept/$file"
done
expect_mentions out "kept        $kept"
# The figures of the report are those of the files it kept, measured here independently.
report="$WORK/kept-report"
cp "$WORK/out" "$report"
log_bytes=$(sed -n -E 's/^  log         ([0-9]+) bytes.*/\1/p' "$report")
on_disk=$(find "$kept/log" -type f -printf '%s\n' | awk '{ sum += $1 } END { print sum }')
[[ $log_bytes == "$on_disk" ]] || fail "the report says the log has $log_bytes bytes; $on_disk"
snapshot_bytes=$(sed -n -E 's/^  snapshot .* keys, ([0-9]+) bytes on disk.*/\1/p' "$report")
[[ $snapshot_bytes == $(stat -c %s "$kept/machine-a.snapshot") ]] ||
  fail "the report says the snapshot has $snapshot_bytes bytes"
a_keys=$(sed -n -E 's/^  check       machine A at update [0-9]+, ([0-9]+) keys.*/\1/p' "$report")
expect_status 0 --state "$kept/machine-a.state" scan --keys-only
[[ $(wc -l <"$WORK/out") == "$a_keys" ]] || fail "machine A has $(wc -l <"$WORK/out") keys"
# What it kept is a working dataset: the tool itself checks it.
expect_status 0 --state "$kept/machine-b.state" --log "file:$kept/log" check --against-log
expect_out ok
expect_status 0 snapshot info "$kept/machine-a.snapshot"
expect_mentions out "$snapshot_bytes bytes on disk"

# A directory it cannot make: exit 6, naming it and what to do.
: >"$WORK/a-file"
TMPDIR="$WORK/a-file" expect_status 6 demo --seconds 1
expect_mentions err "$WORK/a-file/whycache-demo-"
expect_mentions err "set TMPDIR elsewhere"
expect_one_line_err

cli_test_end
