#!/bin/bash
# Drives the whycache binary through the commands that only talk to the change log: init, set,
# del and tail, on the backend named by $2 (file or mysql): output, exit statuses, binary bytes
# through `set --stdin` and tail's escaping, `tail --follow`, and a newcomer's first `set` then
# `get`, which must find the value without being told about `update`.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
cli_test_begin "$1"
use_backend "$2"
LOG=$(new_log main)

# A log that was never initialized: exit 4, saying to run init.
expect_status 4 --log "$LOG" tail
expect_mentions err "init"
expect_one_line_err
expect_status 4 --log "$LOG" set k v
expect_mentions err "init"

# init creates the storage and is idempotent: a second init keeps what was written.
expect_status 0 --log "$LOG" init
expect_out "initialized $LOG (head id 0)"
expect_status 0 --log "$LOG" init
expect_out "initialized $LOG (head id 0)"

export WHYCACHE_LOG=$LOG
# One batch, one id, however many keys.
expect_status 0 set a 1 b "two words" c ""
expect_out 1
expect_status 0 init
expect_out "initialized $LOG (head id 1)"
expect_status 0 del a missing-key
expect_out 2
expect_status 0 set --stdin empty
expect_out 3
# Over the key limit: a usage error naming the limit, nothing appended.
expect_status 2 set "$(head -c 5000 /dev/zero | tr '\0' k)" v
expect_mentions err "limit"
expect_status 2 set onlykey
expect_mentions err "KEY VALUE"
expect_status 2 set --stdin
expect_status 2 del

# Every byte value, through stdin; and a key with a tab.
for ((i = 0; i < 256; i++)); do printf "\\x$(printf %02x "$i")"; done >"$WORK/bytes"
CLI_STDIN="$WORK/bytes" expect_status 0 set --stdin bin
expect_out 4
printf 'line one\n' >"$WORK/line"
CLI_STDIN="$WORK/line" expect_status 0 set --stdin "tab	key"
expect_out 5
bytes_escaped=$(escaped "$WORK/bytes")
# The escaping rule, spelled out for a few bytes, so that `escaped` itself is checked too.
[[ $bytes_escaped == '\x00\x01'*'\x09\x0a'*' !"#'*'[\x5c]'*'}~\x7f\x80'*'\xfe\xff' ]] ||
  fail "escaped() does not follow the contract: $bytes_escaped"

expect_status 0 tail
expect_out "1	set	a	1
1	set	b	two words
1	set	c	
2	del	a
2	del	missing-key
3	set	empty	
4	set	bin	$bytes_escaped
5	set	tab\\x09key	line one\\x0a"
expect_status 0 tail --from 3
expect_out "4	set	bin	$bytes_escaped
5	set	tab\\x09key	line one\\x0a"
expect_status 0 tail --from=5
expect_out ""
expect_status 0 tail --from 1000
expect_out ""
expect_status 2 tail --from nope
expect_mentions err "decimal"
expect_status 2 tail --sideways
expect_mentions err "whycache tail --help"
expect_status 2 --log "bogus:x" tail
expect_mentions err "bogus:x"

# --follow prints what is appended later and stops on SIGTERM with status 0. `timeout` bounds
# it should it ignore the signal.
timeout -s KILL 60 "$WHYCACHE" tail --from 5 --follow >"$WORK/follow" 2>"$WORK/follow.err" &
follower=$!
expect_status 0 set later value
expect_status 0 del later
for ((i = 0; i < 1200; i++)); do
  [[ $(wc -l <"$WORK/follow") -ge 2 ]] && break
  sleep 0.05
done
kill -TERM "$follower"
wait "$follower"
status=$?
[[ $status == 0 ]] || fail "tail --follow exited $status after SIGTERM: $(cat "$WORK/follow.err")"
[[ $(cat "$WORK/follow") == "6	set	later	value
7	del	later" ]] || fail "tail --follow printed [$(cat "$WORK/follow")]"

# A newcomer's first steps: set, then get and scan on a state file never used before. With a
# log given, the reading commands apply what is new first.
export WHYCACHE_STATE="$WORK/newcomer.state"
expect_status 0 set greeting hello
expect_status 0 get greeting
expect_out hello
expect_status 0 set greeting "hello again"
expect_status 0 scan greet
expect_out "greeting	hello again"
# --no-update reads the state as it is; a miss then says what to run to catch up.
expect_status 0 set late 1
expect_out 10
expect_status 1 get --no-update late
expect_mentions err "key 'late' not found in $WHYCACHE_STATE (applied id 9"
expect_mentions err "whycache update"
expect_one_line_err
expect_status 0 scan --no-update late
expect_out ""
# Without a log there is nothing to update from: the miss says how to give one.
expect_status 1 --log "" get late
expect_mentions err "whycache update"
expect_mentions err "--log"
expect_one_line_err
expect_status 0 get late
expect_out 1

# On a terminal, update draws its progress on stderr, and stdout keeps only the applied id;
# where stderr is not a terminal nothing is drawn. `script` gives the command a terminal.
expect_status 0 set progress 1
expect_out 11
script -qec "$WHYCACHE --state $WORK/progress.state update >$WORK/progress.id" /dev/null \
  >"$WORK/progress.tty" 2>&1 || fail "update on a terminal failed: $(cat "$WORK/progress.tty")"
grep -q -F "update [" "$WORK/progress.tty" || fail "update drew no progress: [$(cat "$WORK/progress.tty")]"
grep -q -F "100%  11 / 11 updates" "$WORK/progress.tty" ||
  fail "update's progress did not end at 11 / 11: [$(cat "$WORK/progress.tty")]"
[[ $(cat "$WORK/progress.id") == 11 ]] || fail "update printed [$(cat "$WORK/progress.id")]"
expect_status 0 --state "$WORK/quiet.state" update
expect_out 11
[[ -s $WORK/err ]] && fail "update drew on a stderr that is not a terminal: [$(cat "$WORK/err")]"

# --token: a set or del retried with the same token prints the first id and appends nothing.
expect_status 0 set --token 00112233445566778899aabbccddeeff retried once
expect_out 12
expect_status 0 set --token 00112233445566778899AABBCCDDEEFF retried once
expect_out 12
expect_status 0 del --token ffeeddccbbaa99887766554433221100 retried
expect_out 13
expect_status 0 del --token ffeeddccbbaa99887766554433221100 retried
expect_out 13
expect_status 0 tail --from 11
expect_out "12	set	retried	once
13	del	retried"
expect_status 2 set --token 0011 k v
expect_mentions err "32 hex digits"
expect_status 2 del --token 00112233445566778899aabbccddeefg k
expect_mentions err "32 hex digits"

# Two logs are two datasets: ids start again at 1.
OTHER=$(new_log other)
expect_status 0 --log "$OTHER" init
expect_status 0 --log "$OTHER" set k v
expect_out 1

cli_test_end
