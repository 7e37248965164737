#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-14 (-fsanitize=fuzzer,address,undefined)
# and runs each for a bounded time on a copy of its seed corpus.
#
# The project's Bazel toolchain is gcc, which has no libFuzzer; switching Bazel to clang would
# reconfigure the C++ toolchain for the whole workspace (and discard its cache both ways), so
# this script compiles the few library sources the decoders need with clang++-14 directly, into
# a build directory outside the source tree, rebuilding only what changed.
#
# Usage: tests/fuzz/build_and_run.sh [--seconds N] [--smoke] [--build-only] [--gen-corpus]
#                                    [--out DIR] [TARGET...]
#   --seconds N   run each fuzzer N seconds (default 600)
#   --smoke       25 seconds each: the bounded run for continuous integration
#   --build-only  build, do not run
#   --gen-corpus  rewrite the seed corpus in tests/fuzz/corpus with the project's writers
#   --out DIR     build directory (default $XDG_CACHE_HOME/whycache-fuzz or ~/.cache/...)
#   TARGET        record segment file_log snapshot state_file uri (default: all)
# Runs two fuzzers at a time, under nice. Prints one line per fuzzer and exits non-zero if any
# found a crash, leak, timeout or out-of-memory (its input is saved in the build directory).
# Needs clang-14 and libclang-rt-14-dev (apt-get install --no-install-recommends), and the
# headers bazel/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=600
build_only=false
gen_corpus=false
out="${XDG_CACHE_HOME:-$HOME/.cache}/whycache-fuzz"
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --smoke) seconds=25; shift ;;
    --build-only) build_only=true; shift ;;
    --gen-corpus) gen_corpus=true; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all_targets=(record segment file_log snapshot state_file uri)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# Sources linked into every target (the linker drops what a target does not use); the whole
# tree library, whose files change most often.
lib_sources=(
  lib/format/batch_record.cc lib/format/byte_reader.cc lib/format/compression.cc
  lib/format/crc32c.cc lib/format/erased_prefixes.cc lib/format/escape.cc
  lib/io/crash_point.cc lib/io/posix_file.cc lib/io/temp_dir.cc
  lib/log/append_tokens.cc lib/log/dataset_id.cc lib/log/file_compaction.cc lib/log/file_log.cc
  lib/log/file_uri.cc lib/log/manifest.cc lib/log/segment_format.cc
  lib/log/mysql/mysql_uri.cc lib/log/mysql/row_codec.cc
  lib/snapshot/snapshot_file.cc
  lib/tree/*.cc
  cli/invocation.cc
  tests/fuzz/fuzz_util.cc
)
# Per-input limits. A decoder that needs more than this for a few KiB of input is a finding.
max_len() {
  case "$1" in
    state_file) echo 65536 ;;
    file_log | snapshot) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

cxx=clang++-14
command -v "$cxx" >/dev/null || { echo "needs $cxx (apt-get install clang-14)" >&2; exit 2; }
compgen -G "$("$cxx" --print-runtime-dir)/libclang_rt.fuzzer-*.a" >/dev/null ||
  { echo "needs libFuzzer (apt-get install libclang-rt-14-dev)" >&2; exit 2; }
cxxflags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I. -Iinclude -Wall
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all)
libs=(-lzstd -lz -lpthread -lrt)
mkdir -p "$out/obj" "$out/bin"

# Compiles $1 to $2 unless $2 is newer than $1 and every header it included last time.
compile() {
  local src="$1" obj="$2" dep="${2%.o}.d"
  if [[ -f "$obj" && -f "$dep" ]]; then
    local stale=false f
    for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
      [[ "$f" -nt "$obj" ]] && { stale=true; break; }
    done
    $stale || return 0
  fi
  mkdir -p "$(dirname "$obj")"
  nice -n 19 "$cxx" "${cxxflags[@]}" -MMD -MF "$dep" -c "$src" -o "$obj"
}
objects=()
for src in "${lib_sources[@]}"; do objects+=("$out/obj/${src%.cc}.o"); done
to_build=("${lib_sources[@]}" tests/fuzz/gen_corpus.cc)
for t in "${targets[@]}"; do to_build+=("tests/fuzz/${t}_fuzzer.cc"); done
# Two compilers at a time: the machine is shared.
build_failed=0
for src in "${to_build[@]}"; do
  compile "$src" "$out/obj/${src%.cc}.o" &
  if [[ $(jobs -rp | wc -l) -ge 2 ]]; then wait -n || build_failed=1; fi
done
while [[ $(jobs -rp | wc -l) -gt 0 ]]; do wait -n || build_failed=1; done
[[ $build_failed -eq 0 ]] || { echo "build failed" >&2; exit 1; }

link() {
  local bin="$1" flag="$2"
  shift 2
  local newest=false o
  for o in "$@"; do [[ ! -f "$bin" || "$o" -nt "$bin" ]] && newest=true; done
  $newest || return 0
  nice -n 19 "$cxx" "$flag" "$@" "${libs[@]}" -o "$bin"
}
for t in "${targets[@]}"; do
  link "$out/bin/${t}_fuzzer" -fsanitize=fuzzer,address,undefined \
    "$out/obj/tests/fuzz/${t}_fuzzer.o" "${objects[@]}"
done
if $gen_corpus; then
  link "$out/bin/gen_corpus" -fsanitize=fuzzer-no-link,address,undefined \
    "$out/obj/tests/fuzz/gen_corpus.o" "${objects[@]}"
  rm -rf tests/fuzz/corpus
  "$out/bin/gen_corpus" tests/fuzz/corpus
  echo "seed corpus: $(find tests/fuzz/corpus -type f | wc -l) files," \
    "$(du -sk tests/fuzz/corpus | cut -f1) KiB"
fi
$build_only && exit 0

# Scratch files of the targets go to memory when possible: fsync on a disk dominates otherwise.
[[ -z ${TMPDIR:-} && -w /dev/shm ]] && export TMPDIR=/dev/shm

# Runs fuzzer $1 for $seconds and prints its summary line; returns non-zero on a finding.
run_one() {
  local t="$1" work="$out/run/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/findings"
  local status=0
  # New inputs go to the working corpus; the committed seeds are read only. The outer timeout
  # bounds the run even if the fuzzer itself stops responding.
  timeout $((seconds + 120)) nice -n 19 "$out/bin/${t}_fuzzer" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 \
    -artifact_prefix="$work/findings/" "$work/corpus" "tests/fuzz/corpus/$t" \
    >"$work/log" 2>&1 || status=$?
  local execs cov corpus finding reason
  # Each `|| true`: under set -e a log without the line looked for (a fuzzer killed before it
  # printed it) would otherwise end this function before it prints its summary.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -1 || true)
  corpus=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$work/log" | tail -1 | cut -d' ' -f2 || true)
  finding=$(find "$work/findings" -type f | head -1 || true)
  if [[ $status -eq 0 && -z $finding ]]; then
    echo "$t: ok, ${seconds} s, ${execs:-?} executions, ${cov:-cov: ?}," \
      "corpus ${corpus:-?} (inputs/bytes)"
  else
    reason=$(grep -m1 -E 'ERROR: |fuzz oracle failed|terminate called' "$work/log" |
      cut -c1-160 || true)
    echo "$t: FAILED (exit $status: ${reason:-see the log}), input ${finding:-none saved}," \
      "log $work/log"
    # The end of the log, for a caller that removes the build directory afterwards.
    tail -n 15 "$work/log" | sed 's/^/  | /'
    return 1
  fi
}

failed=0
pids=()
names=()
for t in "${targets[@]}"; do
  run_one "$t" >"$out/run-$t.line" &
  pids+=($!)
  names+=("$t")
  if [[ ${#pids[@]} -eq 2 ]]; then
    wait "${pids[0]}" || failed=1
    cat "$out/run-${names[0]}.line"
    pids=("${pids[1]}")
    names=("${names[1]}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=1
  cat "$out/run-${names[$i]}.line"
done
exit $failed
