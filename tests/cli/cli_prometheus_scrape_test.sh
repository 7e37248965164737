#!/bin/bash
# A real Prometheus server, started by this test on loopback, scrapes `whycache exporter` every
# second, and its query API returns the applied id this test knows it wrote, before and after
# one more update.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
source "$(dirname "$0")/metrics_test_lib.sh"
metrics_test_begin "$1"
use_backend file
export WHYCACHE_LOG=$(new_log main) WHYCACHE_STATE="$WORK/a.state"

expect_status 0 init
expect_status 0 set flag:a on flag:b off
expect_status 0 set perm:1 read
written=$(cat "$WORK/out")
expect_status 0 update
expect_out "$written"
start_exporter --state "$WHYCACHE_STATE"
target=${EXPORTER_URL#http://}
target=${target%/metrics}

cat >"$WORK/prometheus.yml" <<CONFIG
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: whycache
    static_configs:
      - targets: ['$target']
CONFIG
# Port 0: the system picks a free port, which the server logs once it listens.
start_server "$WORK/prometheus.log" prometheus --config.file="$WORK/prometheus.yml" \
  --storage.tsdb.path="$WORK/tsdb" --web.listen-address=127.0.0.1:0
PROMETHEUS_PID=$SERVER_PID
address=$(wait_for_line "$WORK/prometheus.log" 'msg="Listening on" address=127\.0\.0\.1:[0-9]+' \
  "$PROMETHEUS_PID") || { fail "Prometheus did not start"; cli_test_end; }
PROMETHEUS=http://${address##*address=}

# expect_query_value ID: within 60 s, Prometheus answers whycache_applied_id for this state
# with ID (it scrapes every second; a few scrapes may come before the value does).
expect_query_value() {
  local value=""
  for _ in $(seq 1 600); do
    if curl -sS --fail --max-time 5 -o "$WORK/query.json" \
      "$PROMETHEUS/api/v1/query?query=whycache_applied_id" 2>/dev/null; then
      value=$(grep -o -E '"value":\[[0-9.]+,"[0-9]+"\]' "$WORK/query.json" | cut -d'"' -f4)
      [[ $value == "$1" ]] && break
    fi
    running "$PROMETHEUS_PID" || break
    sleep 0.1
  done
  [[ $value == "$1" ]] ||
    fail "Prometheus's whycache_applied_id is [$value], expected $1: $(cat "$WORK/query.json" \
      2>/dev/null); its log: $(tail -c 2000 "$WORK/prometheus.log")"
  grep -q -F "\"state\":\"$WHYCACHE_STATE\"" "$WORK/query.json" ||
    fail "the series lacks state=\"$WHYCACHE_STATE\": $(cat "$WORK/query.json")"
}

# Readiness, polled with a bound rather than waited for.
for _ in $(seq 1 600); do
  curl -sS --fail --max-time 5 -o /dev/null "$PROMETHEUS/-/ready" 2>/dev/null && break
  running "$PROMETHEUS_PID" || break
  sleep 0.1
done
expect_query_value "$written"

expect_status 0 set flag:c on
written=$(cat "$WORK/out")
expect_status 0 update
expect_out "$written"
expect_query_value "$written"

# The target is healthy: no scrape of the exporter failed.
curl -sS --fail --max-time 5 -o "$WORK/targets.json" "$PROMETHEUS/api/v1/targets" ||
  fail "GET /api/v1/targets failed"
grep -q '"health":"up"' "$WORK/targets.json" || fail "the exporter is not up: $(cat "$WORK/targets.json")"

stop_server "$PROMETHEUS_PID"
[[ $SERVER_STATUS == 0 ]] || fail "Prometheus exited $SERVER_STATUS on SIGTERM"
stop_server "$EXPORTER_PID"
[[ $SERVER_STATUS == 0 ]] || fail "the exporter exited $SERVER_STATUS on SIGTERM"
cli_test_end
