#!/bin/bash
# Drives the whycache binary into the failures of the CLI contract, on the backend named by $2
# (file or mysql): a log or database that cannot be reached (exit 4), a refused MySQL login
# (exit 4), damaged or foreign input files (exit 5) and full disks (exit 6). Each failure must
# be one line on stderr that names the file or server and says what to do.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
dataset_test_begin "$1" "$2"
expect_status 0 init
expect_status 0 set k v
expect_status 0 update

# limited_disk BLOCKS ARGS...: runs whycache where no file may grow beyond BLOCKS KiB, as on a
# full disk: writes past it fail with EFBIG (SIGXFSZ ignored) rather than kill the process.
limited_disk() {
  local blocks=$1
  shift
  (trap '' XFSZ && ulimit -f "$blocks" && exec "$WHYCACHE" "$@") <"$CLI_STDIN" >"$WORK/out" \
    2>"$WORK/err"
}

disk_full_advice="free space on the filesystem that holds it"

# A state file that cannot be made (it is 16 MiB from the start): exit 6, naming it.
limited_disk 1024 --state "$WORK/new.state" update
status=$?
[[ $status == 6 ]] || fail "update onto a full disk exited $status, expected 6"
expect_mentions err "$WORK/new.state"
expect_mentions err "$disk_full_advice"
expect_one_line_err

# A snapshot that cannot be written: exit 6, naming it, and an older snapshot kept whole.
expect_status 0 snapshot create "$WORK/snap"
cp "$WORK/snap" "$WORK/snap.before"
expect_status 0 set big "$(head -c 20000 /dev/urandom | base64 -w0)"
expect_status 0 update
limited_disk 8 snapshot create "$WORK/snap"
status=$?
[[ $status == 6 ]] || fail "snapshot create onto a full disk exited $status, expected 6"
expect_mentions err "$WORK/snap"
expect_mentions err "$disk_full_advice"
cmp -s "$WORK/snap" "$WORK/snap.before" || fail "a failed snapshot create changed the old one"
[[ -z $(find "$WORK" -maxdepth 1 -name 'snap.tmp*') ]] || fail "a failed snapshot left a file"

# Output that cannot be written is a failure too, not exit 0 with half the output.
for command in "get k" "scan" "stats --json" "tail" "--help" "--version"; do
  # shellcheck disable=SC2086  # the command's words are meant to split
  "$WHYCACHE" $command >/dev/full 2>"$WORK/err"
  status=$?
  [[ $status == 6 ]] || fail "whycache $command >/dev/full exited $status, expected 6"
  expect_mentions err "cannot write to standard output: No space left on device"
done

# Output into a closed pipe is the ordinary `| head`: whycache stops quietly with status 0,
# neither killed by SIGPIPE nor printing an error. The outputs are far larger than a pipe holds,
# so each writes after head has gone.
head -c 1000000 /dev/zero | tr '\0' x >"$WORK/big"
CLI_STDIN="$WORK/big" expect_status 0 set --stdin big
pairs=()
value=$(head -c 500 "$WORK/big")
for ((i = 0; i < 2000; i++)); do pairs+=("pipe:$i" "$value"); done
expect_status 0 set "${pairs[@]}"
expect_status 0 update
for command in "tail" "scan" "scan --json" "scan --keys-only" "get big" "get --raw big"; do
  # shellcheck disable=SC2086  # the command's words are meant to split
  "$WHYCACHE" $command 2>"$WORK/err" | head -c 100 >/dev/null
  status=${PIPESTATUS[0]}
  [[ $status == 0 ]] || fail "whycache $command | head -c 100 exited $status, expected 0"
  [[ -s $WORK/err ]] && fail "whycache $command | head -c 100 printed [$(cat "$WORK/err")]"
done
# Small outputs fit in a pipe: a pipe whose reader is already gone makes them meet it too.
mkfifo "$WORK/fifo"
exec 3<>"$WORK/fifo" 4>"$WORK/fifo" 3<&-
for command in "get k" "stats" "stats --json" "scan k" "tail --from 2" "update" "--help" \
  "--version"; do
  # shellcheck disable=SC2086
  "$WHYCACHE" $command >&4 2>"$WORK/err"
  status=$?
  [[ $status == 0 ]] || fail "whycache $command into a closed pipe exited $status, expected 0"
  [[ -s $WORK/err ]] && fail "whycache $command into a closed pipe printed [$(cat "$WORK/err")]"
done
exec 4>&-
# A follower whose reader has gone stops at once, without waiting for the next update.
head_id=$("$WHYCACHE" set follow:first 1)
(
  timeout -s KILL 60 "$WHYCACHE" tail --from "$head_id" --follow 2>"$WORK/follow.err" |
    head -1 >"$WORK/follow"
  echo "${PIPESTATUS[0]}" >"$WORK/follow.status"
) &
follower=$!
expect_status 0 set follow:second 2
wait "$follower"
[[ $(cat "$WORK/follow.status") == 0 ]] ||
  fail "tail --follow | head -1 exited $(cat "$WORK/follow.status"), expected 0"
[[ $(cat "$WORK/follow") == "$((head_id + 1))	set	follow:second	2" ]] ||
  fail "tail --follow | head -1 printed [$(cat "$WORK/follow")]"
[[ -s $WORK/follow.err ]] && fail "tail --follow | head -1 printed [$(cat "$WORK/follow.err")]"

if [[ $BACKEND == file ]]; then
  # An append that cannot be written: exit 6 naming the segment file; nothing is appended.
  limited_disk 1 set big2 "$(head -c 3000 /dev/zero | tr '\0' v)"
  status=$?
  [[ $status == 6 ]] || fail "set onto a full disk exited $status, expected 6"
  expect_mentions err "$WORK/main.log/"
  expect_mentions err ".seg"
  expect_mentions err "$disk_full_advice"
  expect_one_line_err
  expect_status 0 set after-full ok
  expect_out $((head_id + 2))
  expect_status 0 update --wait-for $((head_id + 2))
  expect_status 0 check --against-log
  expect_out ok

  # A damaged record: exit 5 naming the segment file and the offset, for every reader of it.
  expect_status 0 --log "file:$WORK/main.log" tail
  segment=$(ls "$WORK"/main.log/*.seg | head -1)
  flip_byte "$segment" 50
  expect_status 5 tail
  expect_mentions err "$segment at offset"
  expect_status 5 --state "$WORK/fresh.state" update
  expect_mentions err "$segment"
fi

if [[ $BACKEND == mysql ]]; then
  # The password only ever comes from the environment or an option file. Wrong, then missing.
  WHYCACHE_MYSQL_PASSWORD="not-$MDB_PASS" expect_status 4 tail
  expect_mentions err "MySQL refused the login of $MDB_USER@$MDB_HOST:$MDB_PORT"
  expect_mentions err "check the password in WHYCACHE_MYSQL_PASSWORD"
  expect_one_line_err
  expect_no_mention err "$MDB_PASS"
  password=$WHYCACHE_MYSQL_PASSWORD
  unset WHYCACHE_MYSQL_PASSWORD
  expect_status 4 tail
  expect_mentions err "WHYCACHE_MYSQL_PASSWORD is not set"
  expect_one_line_err
  # An option file instead of the environment; init needs the login.
  printf '[client]\npassword = "%s"\n' "$password" >"$WORK/good.cnf"
  printf '[client]\npassword = wrong\n' >"$WORK/bad.cnf"
  expect_status 0 --log "$WHYCACHE_LOG&defaults-file=$WORK/good.cnf" init
  expect_mentions out "(head id $((head_id + 1)))"
  export WHYCACHE_MYSQL_PASSWORD=$password
  expect_status 4 --log "$WHYCACHE_LOG&defaults-file=$WORK/bad.cnf" tail
  expect_mentions err "check the password of the [client] group in $WORK/bad.cnf"
  expect_status 2 --log "mysql://$MDB_USER:not-the-password@$MDB_HOST:$MDB_PORT/$MDB_DB" tail
  expect_mentions err "a password does not belong in the URI"
  expect_no_mention err "not-the-password"
  # A database that does not exist: exit 4, naming it and what to do.
  expect_status 4 --log "mysql://$MDB_USER@$MDB_HOST:$MDB_PORT/no_such_db" init
  expect_mentions err "cannot open database 'no_such_db'"
  expect_mentions err "create it, or grant $MDB_USER access to it"

  # A closed loopback port: exit 4 naming host:port, within the reconnect budget.
  started=$SECONDS
  expect_status 4 --log "mysql://$MDB_USER@127.0.0.1:1/$MDB_DB" tail
  expect_mentions err "127.0.0.1:1"
  expect_mentions err "check that the server is running"
  expect_one_line_err
  ((SECONDS - started < 30)) || fail "an unreachable server took $((SECONDS - started)) s"

  if [[ -n $MDB_DIR ]]; then
    # The server goes away: the machine keeps serving its state; updates fail with exit 4.
    bash "$(mariadb_script)" stop "$MDB_DIR" >/dev/null 2>&1
    expect_status 0 get k
    expect_out v
    expect_status 4 update
    expect_mentions err "$MDB_HOST:$MDB_PORT"
    expect_status 4 set k2 v2
    expect_mentions err "$MDB_HOST:$MDB_PORT"
  fi
fi

cli_test_end
