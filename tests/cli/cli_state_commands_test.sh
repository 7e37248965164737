#!/bin/bash
# Drives the whycache binary through the commands on a machine's state, with a file log: update,
# get, scan, stats, check, snapshot create/restore/info and compact: output and exit statuses,
# binary values round-tripping through `set --stdin` and `get --raw`, damaged snapshots refused
# with exit 5 and the state left alone.
set -u

WHYCACHE="$1"
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cli-state-XXXXXX")"
export WHYCACHE_LOG="file:$WORK/log"
export WHYCACHE_STATE="$WORK/a.state"
FAILURES=0

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# run CODE ARGS...: runs whycache, stdout to $WORK/out, stderr to $WORK/err, checks the status.
run() {
  local want="$1"
  shift
  "$WHYCACHE" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  local got=$?
  [[ "$got" == "$want" ]] || fail "whycache $* exited $got, expected $want; stderr: $(cat "$WORK/err")"
}

expect_out() {
  [[ "$(cat "$WORK/out")" == "$1" ]] || fail "expected output [$1], got [$(cat "$WORK/out")]"
}

expect_in() {
  grep -q -- "$2" "$WORK/$1" || fail "expected $1 to mention [$2], got [$(cat "$WORK/$1")]"
}

run 0 init
# A state file that does not exist yet is not created by reading commands without a log.
run 2 --log "" get k
expect_in err "does not exist"

run 0 set user:1:perm read user:2:perm write flag:a on
run 0 del user:2:perm
run 0 update
expect_out 2
run 0 get user:1:perm
expect_out read
run 1 get user:2:perm
expect_in err "not found"

# Binary values, NUL and newline included, round-trip exactly.
head -c 4096 /dev/urandom >"$WORK/blob"
printf 'a\0b\nc' >>"$WORK/blob"
"$WHYCACHE" set --stdin "bin:key" <"$WORK/blob" >"$WORK/out" 2>"$WORK/err" || fail "set --stdin"
id=$(cat "$WORK/out")
run 0 update --wait-for "$id"
"$WHYCACHE" get --raw "bin:key" >"$WORK/roundtrip" 2>"$WORK/err" || fail "get --raw"
cmp -s "$WORK/blob" "$WORK/roundtrip" || fail "get --raw did not return the exact bytes"

run 0 scan user:
expect_out "$(printf 'user:1:perm\tread')"
run 0 scan --keys-only --limit 1
expect_out "bin:key"
run 0 scan flag: --json
expect_out '{"key":"flag:a","value":"on"}'
run 0 stats --json
expect_in out '"keys":3'
expect_in out '"applied_id":3'
expect_in out '"log_head_id":3'
run 0 check --against-log
expect_out ok

# Snapshots: create, verify, restore on another machine.
run 0 snapshot create "$WORK/snap"
expect_in out "update 3, 3 keys"
run 0 snapshot info "$WORK/snap"
expect_in out "format 1"
run 0 --state "$WORK/b.state" snapshot restore "$WORK/snap"
run 0 --state "$WORK/b.state" get user:1:perm
expect_out read

# Damaged snapshots: exit 5, nothing written over machine b's state.
run 0 set after snapshot
run 0 --state "$WORK/b.state" update
cp "$WORK/snap" "$WORK/truncated" && truncate -s 100 "$WORK/truncated"
cp "$WORK/snap" "$WORK/flipped" && printf '\x55' | dd of="$WORK/flipped" bs=1 seek=300 conv=notrunc status=none
for bad in truncated flipped; do
  run 5 snapshot info "$WORK/$bad"
  expect_in err "snapshot $WORK/$bad"
  run 5 --state "$WORK/b.state" snapshot restore "$WORK/$bad"
  run 0 --state "$WORK/b.state" get after
  expect_out snapshot
done
# A snapshot of another dataset: exit 5 as well.
run 0 --log "file:$WORK/other" init
run 0 --log "file:$WORK/other" --state "$WORK/other.state" set k v
run 0 --log "file:$WORK/other" --state "$WORK/other.state" update
run 0 --log "file:$WORK/other" --state "$WORK/other.state" snapshot create "$WORK/other.snap"
run 5 --state "$WORK/b.state" snapshot restore "$WORK/other.snap"
expect_in err "dataset"

# A damaged state file fails the check with exit 3, and is left as it is for inspection.
run 0 --state "$WORK/b.state" check
cp "$WORK/b.state" "$WORK/c.state"
printf '\x55\x55\x55\x55' | dd of="$WORK/c.state" bs=1 seek=12 conv=notrunc status=none
run 3 --state "$WORK/c.state" check --against-log
expect_in out "damaged"
[[ -e "$WORK/c.state.bad" ]] && fail "check replaced the damaged state file"

# Compaction: keeps the newest entry of each key.
for i in 1 2 3 4 5; do run 0 set user:1:perm "v$i"; done
run 0 compact --json
expect_in out '"removed":'
run 0 update
run 0 get user:1:perm
expect_out v5
run 0 check --against-log
expect_out ok

# Usage errors.
run 2 get
run 2 scan --limit nope
run 2 snapshot frobnicate "$WORK/snap"
run 2 update --wait-for

rm -rf "$WORK"
if ((FAILURES > 0)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
