# Sourced, after cli_test_lib.sh, by the tests of `stats --prometheus` and `whycache exporter`:
# background servers that this test owns (the exporter, a Prometheus server), reaching them over
# loopback, and checking pages with promtool. The servers get SIGKILL if this shell dies, and
# are stopped at exit otherwise.

# Pids of the servers this test started and has not stopped yet.
SERVER_PIDS=()

metrics_cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  cli_cleanup
}

metrics_test_begin() {
  cli_test_begin "$1"
  trap metrics_cleanup EXIT
  # Missing tools fail the test: a skipped check would pass unnoticed.
  local tool
  for tool in promtool prometheus curl setpriv; do
    command -v "$tool" >/dev/null ||
      { echo "FAIL: $tool not found; run bazel/setup.sh to install it" >&2; exit 1; }
  done
}

# running PID: the process exists and has not exited (an exited child stays a zombie until
# `wait`).
running() {
  local state
  state=$(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $state && $state != Z ]]
}

# start_server LOG COMMAND...: runs COMMAND in the background with stdout and stderr to LOG,
# killed as soon as this shell dies; sets SERVER_PID.
start_server() {
  local log=$1
  shift
  setpriv --pdeathsig KILL "$@" </dev/null >"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
}

# wait_for_line FILE REGEX PID: waits up to 60 s for a line of FILE matching REGEX (extended)
# and prints its first match; fails if PID exits or time runs out.
wait_for_line() {
  local match
  for _ in $(seq 1 600); do
    match=$(grep -o -E -m1 -- "$2" "$1") && { echo "$match"; return 0; }
    running "$3" || break
    sleep 0.1
  done
  echo "FAIL: no line matching [$2] in $1 (process $3 $(running "$3" && echo running ||
    echo exited)): $(tail -c 2000 "$1")" >&2
  return 1
}

# stop_server PID: SIGTERM, then waits up to 30 s for it to exit; sets SERVER_STATUS to its exit
# status.
stop_server() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 1 300); do running "$1" || break; sleep 0.1; done
  if running "$1"; then
    fail "process $1 ignored SIGTERM for 30 s"
    kill -KILL "$1"
  fi
  SERVER_STATUS=0
  wait "$1" || SERVER_STATUS=$?
  local -a rest=()
  local pid
  for pid in "${SERVER_PIDS[@]}"; do [[ $pid == "$1" ]] || rest+=("$pid"); done
  SERVER_PIDS=("${rest[@]}")
}

# start_exporter ARGS...: `whycache exporter --listen 127.0.0.1:0 ARGS...` (a free port the
# system picks, so two runs never race for one); sets EXPORTER_PID and EXPORTER_URL.
start_exporter() {
  start_server "$WORK/exporter.log" "$WHYCACHE" exporter --listen 127.0.0.1:0 "$@"
  EXPORTER_PID=$SERVER_PID
  EXPORTER_URL=$(wait_for_line "$WORK/exporter.log" 'http://127\.0\.0\.1:[0-9]+/metrics' \
    "$EXPORTER_PID") || { fail "the exporter did not start"; cli_test_end; }
}

# fetch URL FILE: GETs URL into FILE (10 s at most); fails the test on an error.
fetch() {
  curl -sS --fail --max-time 10 -o "$2" "$1" || fail "GET $1 failed"
}

# expect_valid_metrics FILE: promtool accepts FILE as a Prometheus text page, lint included.
expect_valid_metrics() {
  promtool check metrics <"$1" >"$WORK/promtool.out" 2>&1 ||
    fail "promtool check metrics rejected $1: $(cat "$WORK/promtool.out"); the page: $(cat "$1")"
}
