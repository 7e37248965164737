#!/usr/bin/env bash
# Drives the built `whycache` binary through its global behaviour: help, version, exit codes.
set -uo pipefail

bin=$1
failures=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect STATUS PATTERN-IN-OUTPUT ARGS...: runs the tool, checks its exit status and that
# stdout+stderr contain the pattern.
expect() {
  local want=$1 pattern=$2
  shift 2
  env -u WHYCACHE_LOG -u WHYCACHE_STATE "$bin" "$@" >"$out" 2>"$err"
  local got=$?
  if [[ $got -ne $want ]] || ! grep -q -e "$pattern" "$out" "$err"; then
    echo "FAIL: whycache $* -> exit $got (want $want), output lacks '$pattern':" >&2
    cat "$out" "$err" >&2
    failures=$((failures + 1))
  fi
}

expect 0 '^whycache [0-9]' --version
expect 0 'state file format [0-9]' --version
expect 0 'usage: whycache' --help
expect 0 'commands:' --help
expect 2 'usage: whycache' # no command at all
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "unknown option '--bogus'" --bogus get k
expect 2 'needs a value' --state
expect 0 'usage: whycache .* get' get --help
expect 0 'usage: whycache .* snapshot' snapshot --help

[[ $failures -eq 0 ]] || exit 1
echo "all checks passed"
