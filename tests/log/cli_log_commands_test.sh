#!/bin/bash
# Drives the whycache binary through init, set, del and tail: output, exit statuses and a binary
# round trip through `set --stdin` and `tail`'s escaping.
set -u

WHYCACHE="$1"
WORK="$(mktemp -d "${TEST_TMPDIR:-/tmp}/cli-log-XXXXXX")"
LOG="file:$WORK/log"
FAILURES=0

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# expect_status CODE COMMAND...: runs whycache with the arguments, stdout to $WORK/out and stderr
# to $WORK/err, and checks the exit status.
expect_status() {
  local want="$1"
  shift
  "$WHYCACHE" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  local got=$?
  if [[ "$got" != "$want" ]]; then
    fail "whycache $* exited $got, expected $want; stderr: $(cat "$WORK/err")"
  fi
}

expect_out() {
  local want="$1"
  if [[ "$(cat "$WORK/out")" != "$want" ]]; then
    fail "expected output [$want], got [$(cat "$WORK/out")]"
  fi
}

expect_err_mentions() {
  if ! grep -q -- "$1" "$WORK/err"; then
    fail "expected stderr to mention [$1], got [$(cat "$WORK/err")]"
  fi
}

# Usage errors: exit 2 with a message saying what to do.
unset WHYCACHE_LOG
expect_status 2 tail
expect_err_mentions "--log"
expect_status 2 --log "$LOG" set onlykey
expect_err_mentions "KEY VALUE"
expect_status 2 --log "$LOG" set
expect_status 2 --log "$LOG" del
expect_status 2 --log "$LOG" set --stdin
expect_status 2 --log "$LOG" tail --from nope
expect_err_mentions "decimal"
expect_status 2 --log "$LOG" tail --sideways
expect_status 2 --log "bogus:x" tail
expect_err_mentions "bogus:x"

# A log that was never initialized is unreachable: exit 4, saying to run init.
expect_status 4 --log "$LOG" tail
expect_err_mentions "init"
expect_status 4 --log "$LOG" set k v

# init is idempotent.
expect_status 0 --log "$LOG" init
expect_status 0 --log "$LOG" init
expect_out "initialized $LOG (head id 0)"

export WHYCACHE_LOG="$LOG"
expect_status 0 set a 1 b "two words"
expect_out "1"
expect_status 0 del a
expect_out "2"
expect_status 0 set --stdin empty
expect_out "3"
# Over the key limit: a usage error, nothing appended.
expect_status 2 set "$(head -c 5000 /dev/zero | tr '\0' k)" v
expect_err_mentions "limit"

# Every byte value as a key and as a value, through stdin.
for ((i = 0; i < 256; i++)); do printf "\\x$(printf %02x "$i")"; done >"$WORK/bytes"
expected_escaped=""
for ((i = 0; i < 256; i++)); do
  if ((i >= 32 && i <= 126 && i != 92)); then
    expected_escaped+="$(printf "\\x$(printf %02x "$i")")"
  else
    expected_escaped+="$(printf '\\x%02x' "$i")"
  fi
done
"$WHYCACHE" set --stdin "bin" <"$WORK/bytes" >"$WORK/out" 2>"$WORK/err" || fail "set --stdin failed"
expect_out "4"
"$WHYCACHE" set --stdin "tab	key" <<<"line one" >"$WORK/out" 2>"$WORK/err" || fail "set failed"
expect_out "5"

expect_status 0 tail
expect_out "1	set	a	1
1	set	b	two words
2	del	a
3	set	empty	
4	set	bin	$expected_escaped
5	set	tab\\x09key	line one\\x0a"
expect_status 0 tail --from 3
expect_out "4	set	bin	$expected_escaped
5	set	tab\\x09key	line one\\x0a"
expect_status 0 tail --from=5
expect_out ""

# --follow prints what is appended later and stops on SIGTERM with status 0.
"$WHYCACHE" tail --from 5 --follow >"$WORK/follow" 2>"$WORK/follow.err" &
follower=$!
expect_status 0 set later value
for ((i = 0; i < 100; i++)); do
  grep -q "later" "$WORK/follow" && break
  sleep 0.05
done
kill -TERM "$follower"
wait "$follower"
status=$?
[[ "$status" == 0 ]] || fail "tail --follow exited $status after SIGTERM"
[[ "$(cat "$WORK/follow")" == "6	set	later	value" ]] || fail "tail --follow printed [$(cat "$WORK/follow")]"

# A damaged record: exit 5 naming the segment file.
segment="$WORK/log/00000000000000000001.seg"
printf '\xff' | dd of="$segment" bs=1 seek=50 conv=notrunc status=none
expect_status 5 tail
expect_err_mentions "00000000000000000001.seg at offset"

# A MySQL server that cannot be reached: exit 4, naming the server.
expect_status 4 --log "mysql://u@127.0.0.1:1/db" tail
expect_err_mentions "127.0.0.1:1"

rm -rf "$WORK"
if ((FAILURES > 0)); then
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
