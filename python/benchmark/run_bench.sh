#!/usr/bin/env bash
# Runs bench.py with the system python3 and the built whycache package (bazel run //python:bench).
set -euo pipefail
root="${RUNFILES_DIR:-$0.runfiles}/whycache"
export PYTHONPATH="$root/python"
exec /usr/bin/python3 "$root/python/benchmark/bench.py" "$@"
