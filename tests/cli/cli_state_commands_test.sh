#!/bin/bash
# Drives the whycache binary through the commands on a machine's state, on the backend named by
# $2 (file or mysql): update [--wait-for], get [--raw], scan, stats, compact, snapshot
# create/restore/info and check [--against-log]: output, exit statuses, binary values
# round-tripping exactly, damaged and foreign input files refused.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
dataset_test_begin "$1" "$2"

expect_status 0 init
# Without a log, reading commands use an existing state file only; they never create one.
expect_status 2 --log "" get k
expect_mentions err "does not exist"
[[ -e $WHYCACHE_STATE ]] && fail "get without a log created $WHYCACHE_STATE"

expect_status 0 set user:1:perm read user:2:perm write flag:a on
expect_status 0 del user:2:perm
expect_out 2
# get --no-update reads the local state as it is: nothing is applied before `update`.
expect_status 1 get --no-update user:1:perm
expect_status 0 update
expect_out 2
expect_status 0 get user:1:perm
expect_out read
expect_status 1 get user:2:perm
expect_mentions err "key 'user:2:perm' not found in $WHYCACHE_STATE"
expect_one_line_err
expect_status 0 update
expect_out 2

# update --wait-for: a waiter started before the write sees it applied.
timeout -s KILL 60 "$WHYCACHE" update --wait-for 3 --timeout-ms 30000 >"$WORK/waiter" \
  2>"$WORK/waiter.err" &
waiter=$!
expect_status 0 set flag:b off
expect_out 3
wait "$waiter" || fail "update --wait-for 3 failed: $(cat "$WORK/waiter.err")"
[[ $(cat "$WORK/waiter") == 3 ]] || fail "update --wait-for 3 printed [$(cat "$WORK/waiter")]"
# ... and one for an id nobody writes gives up after its timeout: exit 6, naming the id.
started=$SECONDS
expect_status 6 update --wait-for 999 --timeout-ms 300
expect_mentions err "update 999 was not applied within 300 ms (applied id 3)"
((SECONDS - started < 20)) || fail "update --timeout-ms 300 took $((SECONDS - started)) s"
expect_status 2 update --wait-for
expect_status 2 update --wait-for 3 --timeout-ms soon
expect_status 2 update extra

# Binary values, NUL, 0xff and newlines included, round-trip exactly through get --raw.
head -c 4096 /dev/urandom >"$WORK/blob"
printf 'a\0b\nc\xff\n\n' >>"$WORK/blob"
CLI_STDIN="$WORK/blob" expect_status 0 set --stdin bin:blob
expect_out 4
expect_status 0 update --wait-for 4
expect_status 0 get --raw bin:blob
cmp -s "$WORK/blob" "$WORK/out" || fail "get --raw did not return the exact bytes"
# Without --raw the bytes are escaped onto one line.
expect_status 0 get bin:blob
[[ $(cat "$WORK/out") == "$(escaped "$WORK/blob")" ]] || fail "get printed the wrong escaping"
[[ $(wc -l <"$WORK/out") == 1 ]] || fail "get without --raw printed more than one line"

# scan: prefix, key order, --limit, --keys-only, --json and the escaping of keys and values.
printf 'tab\there' >"$WORK/v1" && CLI_STDIN="$WORK/v1" expect_status 0 set --stdin 'esc:1'
printf 'back\\slash\x7f' >"$WORK/v2" && CLI_STDIN="$WORK/v2" expect_status 0 set --stdin 'esc:2'
printf 'q"uote\0' >"$WORK/v3" && CLI_STDIN="$WORK/v3" expect_status 0 set --stdin $'esc:\n3'
expect_status 0 update
expect_status 0 scan esc:
expect_out 'esc:\x0a3	q"uote\x00
esc:1	tab\x09here
esc:2	back\x5cslash\x7f'
expect_status 0 scan esc: --json
expect_out '{"key":"esc:\u000a3","value":"q\"uote\u0000"}
{"key":"esc:1","value":"tab\u0009here"}
{"key":"esc:2","value":"back\\slash\u007f"}'
expect_status 0 scan user:
expect_out "user:1:perm	read"
expect_status 0 scan --keys-only --limit 2
expect_out "bin:blob
esc:\\x0a3"
expect_status 0 scan flag: --json --keys-only
expect_out '{"key":"flag:a"}
{"key":"flag:b"}'
expect_status 0 scan nothing:here
expect_out ""
expect_status 2 scan a b
expect_status 2 scan --limit nope

# stats --json: the figures of what this test did.
expect_status 0 stats --json
[[ $(json_field keys) == 7 ]] || fail "stats: keys $(json_field keys), expected 7"
[[ $(json_field applied_id) == 7 ]] || fail "stats: applied_id $(json_field applied_id)"
[[ $(json_field log_head_id) == 7 ]] || fail "stats: log_head_id $(json_field log_head_id)"
used=$(json_field bytes_used) file_bytes=$(json_field file_bytes)
((used > 4096 && file_bytes >= used)) || fail "stats: bytes_used $used, file_bytes $file_bytes"
[[ $file_bytes == $(stat -c %s "$WHYCACHE_STATE") ]] || fail "stats: file_bytes != file size"
expect_status 0 stats
expect_mentions out "applied_id"
expect_status 2 stats extra

# check: a healthy state, alone and against the log.
expect_status 0 check
expect_out ok
expect_status 0 check --against-log
expect_out ok

# Snapshots: create, info, restore on another machine.
expect_status 0 snapshot create "$WORK/snap"
expect_mentions out "update 7, 7 keys"
expect_status 0 snapshot info "$WORK/snap"
expect_mentions out "update 7, 7 keys"
expect_mentions out "format 1"
expect_status 0 --state "$WORK/b.state" snapshot restore "$WORK/snap"
expect_mentions out "update 7"
expect_status 0 --state "$WORK/b.state" get --raw bin:blob
cmp -s "$WORK/blob" "$WORK/out" || fail "the restored state has other bytes for bin:blob"
expect_status 0 set after snapshot
expect_status 0 --state "$WORK/b.state" update
expect_out 8
expect_status 0 --state "$WORK/b.state" check --against-log
expect_out ok
# An older snapshot restored on a machine that is further on is brought up to its id first:
# readers never go back.
expect_status 0 --state "$WORK/b.state" snapshot restore "$WORK/snap"
expect_mentions out "update 7"
expect_status 0 --state "$WORK/b.state" stats --json
[[ $(json_field applied_id) == 8 ]] || fail "restore took the applied id back: $(cat "$WORK/out")"
expect_status 0 --state "$WORK/b.state" get after
expect_out snapshot
if [[ $BACKEND == file ]]; then
  # Where the log cannot bring it that far (the log brought back from an older copy), the
  # restore is refused, exit 5, unless forced.
  cp -r "${WHYCACHE_LOG#file:}" "$WORK/older.log"
  expect_status 0 set later value
  expect_status 0 --state "$WORK/b.state" update
  expect_out 9
  expect_status 0 --state "$WORK/b.state" snapshot restore "$WORK/snap"
  expect_status 5 --log "file:$WORK/older.log" --state "$WORK/b.state" snapshot restore "$WORK/snap"
  expect_mentions err "--force"
  expect_status 0 --state "$WORK/b.state" get later
  expect_status 0 --log "file:$WORK/older.log" --state "$WORK/b.state" \
    snapshot restore --force "$WORK/snap"
  expect_status 1 --state "$WORK/b.state" get --no-update later
  expect_status 0 --log "file:$WORK/older.log" --state "$WORK/b.state" check --against-log
  expect_out ok
  expect_status 2 snapshot info --force "$WORK/snap"
fi
expect_status 2 snapshot
expect_status 2 snapshot frobnicate "$WORK/snap"
# Its target is renamed over: anything but a regular file there is refused.
mkdir "$WORK/a-directory"
expect_status 2 snapshot create "$WORK/a-directory"
expect_mentions err "not a regular file"

# Damaged snapshots: exit 5 naming the file, and the state left as it was.
cp "$WORK/snap" "$WORK/truncated" && truncate -s 100 "$WORK/truncated"
# A byte of the body (past the 256-byte header), one of the header's dataset id, and the
# header's format version (the 4 bytes after the 8-byte magic) made 9.
cp "$WORK/snap" "$WORK/body-flipped"
flip_byte "$WORK/body-flipped" 300
cp "$WORK/snap" "$WORK/header-flipped"
flip_byte "$WORK/header-flipped" 40
cp "$WORK/snap" "$WORK/other-version"
printf '\x09' | dd of="$WORK/other-version" bs=1 seek=8 conv=notrunc status=none
: >"$WORK/empty.snap"
for bad in truncated body-flipped header-flipped other-version empty.snap; do
  expect_status 5 snapshot info "$WORK/$bad"
  expect_mentions err "$WORK/$bad"
  expect_one_line_err
  expect_status 5 --state "$WORK/b.state" snapshot restore "$WORK/$bad"
  expect_status 0 --state "$WORK/b.state" get after
  expect_out snapshot
done
expect_status 5 snapshot info "$WORK/other-version"
expect_mentions err "format version 9"
expect_status 5 snapshot info "$WORK/header-flipped"
expect_mentions err "header checksum"

# Another dataset: its snapshot and its state file are refused (exit 5), and say so.
OTHER=$(new_log other)
expect_status 0 --log "$OTHER" init
expect_status 0 --log "$OTHER" --state "$WORK/other.state" set k v
expect_status 0 --log "$OTHER" --state "$WORK/other.state" update
expect_status 0 --log "$OTHER" --state "$WORK/other.state" snapshot create "$WORK/other.snap"
expect_status 5 --state "$WORK/b.state" snapshot restore "$WORK/other.snap"
expect_mentions err "dataset"
expect_status 5 --log "$OTHER" --state "$WORK/b.state" update
expect_mentions err "state file $WORK/b.state belongs to another dataset"
expect_mentions err "give each dataset its own state file"
expect_one_line_err
expect_status 0 --state "$WORK/b.state" get after
expect_out snapshot

# A damaged state file fails the check with exit 3 and is left as it is for inspection.
cp "$WORK/b.state" "$WORK/c.state"
printf '\x55\x55\x55\x55' | dd of="$WORK/c.state" bs=1 seek=12 conv=notrunc status=none
expect_status 3 --state "$WORK/c.state" check
expect_mentions out "damaged"
expect_status 3 --state "$WORK/c.state" check --against-log
[[ -e "$WORK/c.state.bad" ]] && fail "check replaced the damaged state file"
if [[ $BACKEND == file ]]; then
  # A state that differs from its log: the log directory replaced by a copy of the same dataset
  # with another history (a wrong backup restored). check --against-log says so, exit 3.
  export WHYCACHE_LOG=$(new_log replaced)
  expect_status 0 init
  cp -r "$WORK/replaced.log" "$WORK/replaced-copy.log"
  expect_status 0 set k original
  expect_status 0 --state "$WORK/replaced.state" update
  expect_status 0 --log "file:$WORK/replaced-copy.log" set k rewritten
  expect_status 3 --log "file:$WORK/replaced-copy.log" --state "$WORK/replaced.state" \
    check --against-log
  expect_mentions out "state file $WORK/replaced.state at update 1 differs from the log replayed"
  expect_mentions out "k"
fi

# A machine behind a compacted log is behind, not wrong: q@1 is superseded and compacted away
# while the machine is still at id 1.
export WHYCACHE_LOG=$(new_log behind) WHYCACHE_STATE="$WORK/lagging.state"
expect_status 0 init
expect_status 0 set q v1
expect_status 0 update
expect_out 1
expect_status 0 set q v2
expect_status 0 compact
expect_status 0 check --against-log
expect_out ok
expect_status 0 get --no-update q
expect_out v1
if [[ $BACKEND == file ]]; then
  # Below the horizon (its delete of q dropped) it cannot be checked: exit 6 and what to do.
  expect_status 0 del q
  expect_status 0 compact --tombstone-retention-s 0
  expect_status 6 check --against-log
  expect_mentions err "below the log's horizon 3"
  expect_mentions err "whycache update"
  expect_status 0 update
  expect_status 0 check --against-log
  expect_out ok
fi

# Compaction: --before keeps the newest entry of each key below the limit. Ids 1-4 of a new
# log: {k=1, x=1}, {k=2}, {k=3}, {del x}.
export WHYCACHE_LOG=$(new_log compact) WHYCACHE_STATE="$WORK/compact.state"
expect_status 0 init
expect_status 0 set k 1 x 1
expect_status 0 set k 2
expect_status 0 update
expect_out 2
expect_status 0 set k 3
expect_status 0 del x
# Below id 3: k@1 is superseded by k@2; x@1 is the newest x below 3.
expect_status 0 compact --before 3 --json
[[ $(json_field removed) == 1 && $(json_field kept) == 2 ]] ||
  fail "compact --before 3: $(cat "$WORK/out"), expected removed 1, kept 2"
expect_status 0 tail
expect_out "1	set	x	1
2	set	k	2
3	set	k	3
4	del	x"
# All of it: k@2 and x@1 are superseded. The file log drops them now; the MySQL log keeps the
# last row of a young batch (its retry token) for an hour, so only the sum is fixed there.
expect_status 0 compact --json
removed=$(json_field removed) kept=$(json_field kept)
((removed + kept == 4)) || fail "compact: removed $removed + kept $kept != the 4 mutations"
[[ $BACKEND != file || $removed == 2 ]] || fail "compact: removed $removed, expected 2"
expect_status 0 compact
expect_mentions out "compacted $WHYCACHE_LOG: removed"
expect_status 0 update
expect_out 4
expect_status 0 get k
expect_out 3
expect_status 1 get x
expect_status 0 check --against-log
expect_out ok
expect_status 2 compact --before soon
expect_status 2 compact extra
if [[ $BACKEND == file ]]; then
  # Expired tombstones go too, which raises the horizon to their id; a machine that was below
  # it (this one, at id 2) resyncs instead of keeping x.
  export WHYCACHE_STATE="$WORK/behind.state"
  expect_status 0 set y 1
  expect_status 0 update --wait-for 5
  expect_status 0 snapshot create "$WORK/before-horizon.snap"
  expect_status 0 set y 2
  expect_status 0 del y
  expect_status 0 compact --tombstone-retention-s 0 --json
  [[ $(json_field horizon) == 7 ]] || fail "compact: horizon $(json_field horizon), expected 7"
  # New ids stay above every id handed out before, dropped ones included.
  expect_status 0 set z 1
  expect_out 8
  expect_status 0 update --wait-for 8
  expect_status 0 get z
  expect_out 1
  expect_status 1 get y
  expect_status 0 stats --json
  (($(json_field resyncs) >= 1)) || fail "no resync after the horizon rose: $(cat "$WORK/out")"
  expect_status 0 check --against-log
  expect_out ok
  # A snapshot from below the horizon cannot be brought up to date: an unusable input file,
  # exit 5 (not a usage error), and the state left as it was.
  expect_status 5 snapshot restore "$WORK/before-horizon.snap"
  expect_mentions err "below the log's horizon 7"
  expect_one_line_err
  expect_status 0 get z
  expect_out 1
fi

cli_test_end
