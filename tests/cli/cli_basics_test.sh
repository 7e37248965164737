#!/bin/bash
# Drives the whycache binary through what needs no dataset: --help on the tool and on every
# command of the CLI contract, --version, and usage errors (exit 2), among them a missing
# --log or --state, which must name both the flag and the environment variable.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
cli_test_begin "$1"

# The commands of the CLI contract, as scripts know them.
COMMANDS=(init set del update get scan stats exporter compact snapshot check tail demo bench)

expect_status 0 --version
expect_mentions out "whycache "
for format in "state file format" "log segment format" "snapshot format" "mysql schema"; do
  grep -q -E "^$format [0-9]+$" "$WORK/out" || fail "--version lacks '$format N'"
done
# Records without a prefix delete keep the older version, which older releases read.
grep -q -E "^log record format [0-9]+ and [0-9]+ \(records with a prefix delete\)$" \
  "$WORK/out" || fail "--version lacks 'log record format N and M (records with a prefix delete)'"
[[ $(head -1 "$WORK/out") =~ ^whycache\ [0-9]+\.[0-9]+ ]] || fail "--version: $(head -1 "$WORK/out")"

for help in --help -h; do
  expect_status 0 $help
  expect_mentions out "usage: whycache [--state PATH] [--log URI] COMMAND [ARGS...]"
  expect_mentions out "WHYCACHE_STATE"
  expect_mentions out "WHYCACHE_LOG"
  expect_mentions out "WHYCACHE_MYSQL_PASSWORD"
  expect_mentions out "exit status"
done
for command in "${COMMANDS[@]}"; do
  grep -q -E "^  $command +[a-z]" "$WORK/out" || fail "--help does not list '$command'"
done

# Every command's help: its usage line, and (but for bench, which another change brings)
# details with examples that run that very command.
for command in "${COMMANDS[@]}"; do
  for spelling in "$command --help" "$command -h" "--help $command"; do
    # shellcheck disable=SC2086  # the words are meant to split
    expect_status 0 $spelling
    [[ $(head -1 "$WORK/out") == "usage: whycache [--state PATH] [--log URI] $command"* ]] ||
      fail "whycache $spelling: first line is [$(head -1 "$WORK/out")]"
  done
  [[ $command == bench ]] && continue
  expect_mentions out "example"
  grep -q -E "^  (\S+=\S+ )?whycache .*$command" "$WORK/out" ||
    fail "whycache $command --help has no example that runs it: $(cat "$WORK/out")"
  (($(wc -l <"$WORK/out") >= 8)) || fail "whycache $command --help says too little"
  awk 'NR > 1 && length > 80 { exit 1 }' "$WORK/out" || fail "whycache $command --help: lines over 80"
done

# del --prefix and the line tail prints for it are in the help.
expect_status 0 --help
grep -q -E "^  del +.*--prefix" "$WORK/out" || fail "--help does not list del --prefix"
expect_status 0 del --help
expect_mentions out "--prefix PREFIX"
expect_mentions out "ID<TAB>del-prefix<TAB>PREFIX"
expect_mentions out "whycache del --prefix perm:user:42:"
expect_status 0 tail --help
expect_mentions out "ID<TAB>del-prefix<TAB>PREFIX"

# Usage errors: exit 2, one line naming what is wrong.
expect_status 2
expect_mentions err "usage: whycache"
expect_status 2 frobnicate
expect_mentions err "unknown command 'frobnicate'"
expect_status 2 --bogus get k
expect_mentions err "unknown option '--bogus'"
expect_status 2 --state
expect_mentions err "--state needs a value"
expect_status 2 --log
expect_mentions err "--log needs a value"

# A command that needs the log or the state and has neither names the flag and the variable.
while IFS='|' read -r given wanted variable args; do
  # shellcheck disable=SC2086  # the words are meant to split
  expect_status 2 $given $args
  expect_mentions err "pass $wanted"
  expect_mentions err "$variable"
  expect_one_line_err
done <<CASES
--state $WORK/s|--log URI|WHYCACHE_LOG|init
--state $WORK/s|--log URI|WHYCACHE_LOG|set k v
--state $WORK/s|--log URI|WHYCACHE_LOG|del k
--state $WORK/s|--log URI|WHYCACHE_LOG|del --prefix p
--state $WORK/s|--log URI|WHYCACHE_LOG|tail
--state $WORK/s|--log URI|WHYCACHE_LOG|compact
--state $WORK/s|--log URI|WHYCACHE_LOG|update
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|get k
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|scan
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|stats
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|check
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|snapshot create $WORK/snap
--log file:$WORK/log|--state PATH|WHYCACHE_STATE|update
CASES
# A state file that does not exist yet and no log to build it from is a usage error (exit 2,
# naming the file and the flag); with a log given that cannot be reached, it is exit 4.
for command in "get k" "scan" "stats" "stats --json" "snapshot create $WORK/snap"; do
  # shellcheck disable=SC2086
  expect_status 2 --state "$WORK/absent.state" $command
  expect_mentions err "$WORK/absent.state"
  expect_mentions err "--log or WHYCACHE_LOG"
  expect_one_line_err
  # shellcheck disable=SC2086
  expect_status 4 --state "$WORK/absent.state" --log "file:$WORK/absent-log" $command
  expect_mentions err "$WORK/absent-log"
  expect_one_line_err
done
[[ -e $WORK/absent.state ]] && fail "a failed command created $WORK/absent.state"
# check reads the state file alone: with the log given, it must not ask for the log.
expect_status 2 --state "$WORK/absent.state" --log "file:$WORK/absent-log" check
expect_mentions err "$WORK/absent.state"
expect_no_mention err "give the log too"
expect_mentions err "whycache update"
expect_one_line_err

# The environment stands in for the flags.
WHYCACHE_LOG="file:$WORK/env-log" expect_status 0 init
expect_out "initialized file:$WORK/env-log (head id 0)"

# Each command's own arguments: exit 2 with a pointer to that command's help.
while IFS='|' read -r command args; do
  # shellcheck disable=SC2086
  expect_status 2 --state "$WORK/s" --log "file:$WORK/env-log" $command $args
  expect_mentions err "$command"
  expect_one_line_err
done <<'CASES'
init|extra
set|
set|onlykey
set|a 1 b
set|--stdin
set|--stdin a b
set|--bogus k v
del|
del|--prefix
del|--prefix=
del|--prefix p k
del|--prefix p --prefix q
update|extra
update|--wait-for
update|--wait-for soon
update|--wait-for 1 --timeout-ms soon
get|
get|a b
get|--json k
scan|a b
scan|--limit
scan|--limit -1
stats|extra
stats|--raw
stats|--json --prometheus
exporter|
exporter|--listen nowhere
compact|extra
compact|--before soon
compact|--tombstone-retention-s forever
snapshot|
snapshot|create
snapshot|frobnicate file
snapshot|create a b
check|extra
check|--deep
tail|extra
tail|--from nope
tail|--sideways
demo|extra
demo|--seconds 0
demo|--seconds 61
demo|--readers 0
demo|--readers 17
CASES

cli_test_end
