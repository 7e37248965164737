#!/bin/bash
# The machine's per-prefix read figures in `whycache stats`: the counts of every process that
# counted a prefix (two reader processes, each gone by then), in the plain, --json and
# --prometheus forms, with a prefix that needs escaping; a damaged read-stats file is reported
# beside the other figures, then made anew by the next process that counts. Expected counts come from the keys this test
# wrote and read.
set -u
source "$(dirname "$0")/cli_test_lib.sh"
source "$(dirname "$0")/metrics_test_lib.sh"
metrics_test_begin "$1"
READER=$2
use_backend file
export WHYCACHE_LOG="file:$WORK/log" WHYCACHE_STATE="$WORK/m.state"

# The model: the keys written, and per prefix the hits and misses of the reads made.
declare -A PRESENT=() HITS=() MISSES=()
# A double quote and a backslash in a prefix: label values and JSON strings must escape them.
QUOTED='q"\'
PREFIXES=("flag:" "perm:" "$QUOTED" "f")
for p in "${PREFIXES[@]}"; do HITS[$p]=0 MISSES[$p]=0; done

expect_status 0 init
expect_status 0 set flag:a 1 flag:b 2 perm:1 3 "${QUOTED}x" 4 other 5
for k in flag:a flag:b perm:1 "${QUOTED}x" other; do PRESENT[$k]=1; done
expect_status 0 update

# read PREFIX... -- KEY...: one reader process counting PREFIX..., reading each KEY once.
read_keys() {
  local counted=() key p
  while [[ $1 != -- ]]; do counted+=("$1"); shift; done
  shift
  "$READER" "$WHYCACHE_STATE" "$WHYCACHE_LOG" "${counted[@]}" -- "$@" 2>"$WORK/reader.err" ||
    fail "prefix_reader failed: $(cat "$WORK/reader.err")"
  for key in "$@"; do
    for p in "${counted[@]}"; do
      [[ $key == "$p"* ]] || continue
      if [[ -n ${PRESENT[$key]:-} ]]; then HITS[$p]=$((HITS[$p] + 1)); else MISSES[$p]=$((MISSES[$p] + 1)); fi
    done
  done
}

read_keys flag: "$QUOTED" f -- flag:a flag:a flag:zz "${QUOTED}x" "${QUOTED}y" fz other
read_keys flag: perm: -- flag:b perm:1 perm:2 perm:3 flag:a

# The order the machine first counted them in: the first reader's, then perm:.
ORDER=("flag:" "$QUOTED" "f" "perm:")

expect_status 0 stats --json
for p in "${ORDER[@]}"; do
  json_prefix=${p//\\/\\\\}
  json_prefix=${json_prefix//\"/\\\"}
  expect_mentions out "{\"prefix\":\"$json_prefix\",\"hits\":${HITS[$p]},\"misses\":${MISSES[$p]}}"
done
want='"prefixes":['
sep=""
for p in "${ORDER[@]}"; do
  json_prefix=${p//\\/\\\\}
  want+="$sep{\"prefix\":\"${json_prefix//\"/\\\"}\",\"hits\":${HITS[$p]},\"misses\":${MISSES[$p]}}"
  sep=","
done
expect_mentions out "$want]}"

expect_status 0 stats
for p in "${ORDER[@]}"; do
  # The plain form writes a backslash as \x5c, as `scan` prints bytes.
  grep -q -F -- "prefix ${p//\\/\\x5c}" "$WORK/out" ||
    fail "stats: no line for prefix [$p]: $(cat "$WORK/out")"
  grep -F -- "prefix ${p//\\/\\x5c} " "$WORK/out" | grep -q -F "hits ${HITS[$p]} misses ${MISSES[$p]}" ||
    fail "stats: prefix [$p] is not hits ${HITS[$p]} misses ${MISSES[$p]}: $(cat "$WORK/out")"
done

expect_status 0 stats --prometheus
cp "$WORK/out" "$WORK/stats.prom"
expect_valid_metrics "$WORK/stats.prom"
expect_mentions out "# TYPE whycache_prefix_reads_total counter"
for p in "${ORDER[@]}"; do
  label=${p//\\/\\\\x5c}
  label=${label//\"/\\\"}
  for result in hit miss; do
    if [[ $result == hit ]]; then want=${HITS[$p]}; else want=${MISSES[$p]}; fi
    expect_mentions out "whycache_prefix_reads_total{state=\"$WHYCACHE_STATE\",prefix=\"$label\",result=\"$result\"} $want"
  done
done

# A damaged read-stats file: stats says which file and what is wrong, without the prefixes, and
# shows the other figures; the next process that counts moves it aside and starts the machine's
# figures anew.
printf 'not a read-stats file' >"$WHYCACHE_STATE.read-stats"
expect_status 0 stats --json
expect_mentions out "\"prefixes_error\":\"read-stats file $WHYCACHE_STATE.read-stats: it is too short"
expect_mentions out "\"prefixes\":[]}"
expect_mentions out "\"keys\":"
expect_status 0 stats --prometheus
expect_mentions out "whycache_prefix_reads_error_info{state=\"$WHYCACHE_STATE\",message=\"read-stats file $WHYCACHE_STATE.read-stats: it is too short"
expect_no_mention out "whycache_prefix_reads_total{"
for p in "${PREFIXES[@]}"; do HITS[$p]=0 MISSES[$p]=0; done
read_keys perm: -- perm:1 perm:4
grep -q -F "moving it to $WHYCACHE_STATE.read-stats.bad" "$WORK/reader.err" ||
  fail "the damaged file was not reported moved aside: $(cat "$WORK/reader.err")"
expect_status 0 stats --json
expect_mentions out "\"prefixes\":[{\"prefix\":\"perm:\",\"hits\":${HITS[perm:]},\"misses\":${MISSES[perm:]}}]}"

cli_test_end
