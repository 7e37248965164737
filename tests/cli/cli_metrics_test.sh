#!/bin/bash
# `whycache stats --prometheus` and `whycache exporter`: promtool accepts both pages, with and
# without a recorded poll error; they carry the figures this test knows it wrote; the exporter
# serves several state files under one HELP/TYPE per metric, follows a state file deleted and
# made anew, stops with exit 0 on SIGTERM and SIGINT, and refuses a bad --listen, a missing
# state file and a port in use with one clear line.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
source "$(dirname "$0")/metrics_test_lib.sh"
metrics_test_begin "$1"
use_backend file
# Paths with a double quote and a backslash: label values must be escaped. A backslash is
# written \x5c first (as `scan` prints bytes), then escaped for the format: \\x5c.
mkdir -p "$WORK/q\"uo\\te"
export WHYCACHE_LOG="file:$WORK/q\"uo\\te/log" WHYCACHE_STATE="$WORK/q\"uo\\te/a.state"
# label TEXT: TEXT as a label value in the page.
label() {
  local text=${1//\\/\\\\x5c}
  printf '%s' "${text//\"/\\\"}"
}
STATE_LABEL=$(label "$WHYCACHE_STATE")

# sample FILE NAME: the value of NAME's sample for $WHYCACHE_STATE in FILE.
sample() {
  grep -F "$2{state=\"$STATE_LABEL\"" "$1" | awk '{print $NF}'
}

expect_status 0 init
expect_status 0 set a 1 b 2 c 3
expect_status 0 set d 4
expect_status 0 del a
expect_out 3
expect_status 0 update
expect_out 3

# stats --prometheus: valid, and the figures of the three batches above.
expect_status 0 stats --prometheus
cp "$WORK/out" "$WORK/stats.prom"
expect_valid_metrics "$WORK/stats.prom"
while read -r name want; do
  got=$(sample "$WORK/stats.prom" "$name")
  [[ $got == "$want" ]] || fail "stats --prometheus: $name is [$got], expected $want"
done <<'FIGURES'
whycache_applied_id 3
whycache_log_head_id 3
whycache_ids_behind 0
whycache_keys 3
whycache_batches_applied_total 3
whycache_mutations_applied_total 5
whycache_poll_errors_total 0
whycache_resyncs_total 0
whycache_reader_slots_max 4096
FIGURES
[[ $(sample "$WORK/stats.prom" whycache_file_bytes) == $(stat -c %s "$WHYCACHE_STATE") ]] ||
  fail "stats --prometheus: whycache_file_bytes is not the state file's size"
for counter in polls poll_errors batches_applied mutations_applied apply_seconds resyncs; do
  expect_mentions out "# TYPE whycache_${counter}_total counter"
done
expect_mentions out "# TYPE whycache_lag_seconds gauge"
expect_mentions out "# HELP whycache_applied_id "
expect_no_mention out "whycache_last_error_info{"
barrier_sample="whycache_read_barrier_info{state=\"$STATE_LABEL\",barrier="
[[ $(grep -cxF -e "$barrier_sample\"membarrier\"} 1" -e "$barrier_sample\"fence\"} 1" \
  "$WORK/stats.prom") == 1 ]] || fail "stats --prometheus: no whycache_read_barrier_info sample"
expect_status 2 stats --json --prometheus
expect_mentions err "--json and --prometheus"
expect_one_line_err

# A poll error (the log moved away) shows as whycache_last_error_info, its message escaped.
mv "$WORK/q\"uo\\te/log" "$WORK/log.away"
expect_status 4 update
expect_status 0 stats --prometheus
cp "$WORK/out" "$WORK/error.prom"
expect_valid_metrics "$WORK/error.prom"
expect_mentions out "whycache_last_error_info{state=\"$STATE_LABEL\",message=\"file log $(label "$WORK/q\"uo\\te/log") does not exist"
[[ $(sample "$WORK/error.prom" whycache_last_error_info) == 1 ]] ||
  fail "whycache_last_error_info is not 1: $(grep last_error "$WORK/error.prom")"
[[ $(sample "$WORK/error.prom" whycache_poll_errors_total) -ge 1 ]] ||
  fail "whycache_poll_errors_total did not count the failed poll"

# The exporter: two state files, each metric's samples under one HELP and TYPE.
export -n WHYCACHE_STATE
mv "$WORK/log.away" "$WORK/q\"uo\\te/log"
expect_status 0 --state "$WORK/b.state" update
expect_out 3
start_exporter --state "$WHYCACHE_STATE" --state "$WORK/b.state"
fetch "$EXPORTER_URL" "$WORK/exporter.prom"
expect_valid_metrics "$WORK/exporter.prom"
[[ $(sample "$WORK/exporter.prom" whycache_applied_id) == 3 ]] ||
  fail "exporter: whycache_applied_id of $WHYCACHE_STATE: $(grep applied_id "$WORK/exporter.prom")"
grep -q -F "whycache_applied_id{state=\"$WORK/b.state\"} 3" "$WORK/exporter.prom" ||
  fail "exporter: no whycache_applied_id 3 for b.state: $(grep applied_id "$WORK/exporter.prom")"
[[ $(grep -c '^# TYPE whycache_applied_id ' "$WORK/exporter.prom") == 1 ]] ||
  fail "exporter: whycache_applied_id has more than one TYPE line"
grep -q -F "whycache_last_error_info{state=\"$STATE_LABEL\",message=" "$WORK/exporter.prom" ||
  fail "exporter: the recorded poll error is missing"
grep -q -F "whycache_state_readable{state=\"$WORK/b.state\"} 1" "$WORK/exporter.prom" ||
  fail "exporter: b.state not readable: $(cat "$WORK/exporter.prom")"

# Figures are read at scrape time; a state file deleted is reported unreadable, and one made
# anew is followed.
expect_status 0 set e 5
expect_status 0 --state "$WORK/b.state" update
expect_out 4
fetch "$EXPORTER_URL" "$WORK/exporter.prom"
grep -q -F "whycache_applied_id{state=\"$WORK/b.state\"} 4" "$WORK/exporter.prom" ||
  fail "exporter: b.state's new applied id not served: $(grep applied_id "$WORK/exporter.prom")"
rm "$WORK/b.state"
fetch "$EXPORTER_URL" "$WORK/exporter.prom"
expect_valid_metrics "$WORK/exporter.prom"
grep -q -F "whycache_state_readable{state=\"$WORK/b.state\"} 0" "$WORK/exporter.prom" ||
  fail "exporter: a deleted state file is not reported unreadable"
grep -q -F "whycache_applied_id{state=\"$WORK/b.state\"}" "$WORK/exporter.prom" &&
  fail "exporter: figures served for a deleted state file"
expect_status 0 --state "$WORK/b.state" update
fetch "$EXPORTER_URL" "$WORK/exporter.prom"
grep -q -F "whycache_applied_id{state=\"$WORK/b.state\"} 4" "$WORK/exporter.prom" ||
  fail "exporter: the state file made anew is not followed"

# A second exporter on the same port: exit 6, naming the port in use.
port=${EXPORTER_URL##*:}
port=${port%%/*}
expect_status 6 exporter --listen "127.0.0.1:$port" --state "$WORK/b.state"
expect_mentions err "cannot listen on 127.0.0.1:$port: the port is in use"
expect_one_line_err

stop_server "$EXPORTER_PID"
[[ $SERVER_STATUS == 0 ]] || fail "exporter exited $SERVER_STATUS on SIGTERM: $(cat "$WORK/exporter.log")"
start_exporter --state "$WORK/b.state"
kill -INT "$EXPORTER_PID"
for _ in $(seq 1 300); do running "$EXPORTER_PID" || break; sleep 0.1; done
stop_server "$EXPORTER_PID"
[[ $SERVER_STATUS == 0 ]] || fail "exporter exited $SERVER_STATUS on SIGINT: $(cat "$WORK/exporter.log")"

# Refusals: exit 2 for what the command line got wrong, one line each.
while IFS='|' read -r want args mention; do
  # shellcheck disable=SC2086  # the words are meant to split
  expect_status "$want" exporter $args
  expect_mentions err "$mention"
  expect_one_line_err
done <<CASES
2|--state $WORK/b.state|--listen ADDRESS:PORT is required
2|--listen 127.0.0.1 --state $WORK/b.state|has no port
2|--listen 127.0.0.1:65536 --state $WORK/b.state|no port number from 0 to 65535
2|--listen localhost:9851 --state $WORK/b.state|no numeric IPv4 address
2|--listen [::1]:9851 --state $WORK/b.state|no numeric IPv4 address
2|--listen 127.0.0.1:0 --state $WORK/missing.state|state file $WORK/missing.state does not exist
2|--listen 127.0.0.1:0 --state $WORK/b.state --state $WORK/b.state|given twice
2|--listen 127.0.0.1:0|pass --state PATH
2|--listen 127.0.0.1:0 --state $WORK/b.state extra|no arguments besides
CASES
[[ -e $WORK/missing.state ]] && fail "the exporter created $WORK/missing.state"

cli_test_end
