#!/usr/bin/env bash
# Runs the system Python's pytest on the test files given as arguments (names in python/tests/),
# with the built whycache package on PYTHONPATH. Results go to Bazel's test.xml.
set -uo pipefail

root="$TEST_SRCDIR/$TEST_WORKSPACE"
export PYTHONPATH="$root/python"
export PYTHONDONTWRITEBYTECODE=1
export WHYCACHE_TEST_ROOT="$root"

# Under --config=asan the extension needs the sanitizer runtime loaded first (conftest.py keeps
# it away from the MariaDB programs), and the interpreter's own allocations, which it frees
# only partly at exit, are not ours to report: the last setting of an option wins. (ldd's whole
# output is read first: `ldd | grep -q` under pipefail fails whenever grep exits before ldd has
# written its last line, and the extension then aborts at import.)
if [[ $(ldd "$root/python/whycache/_whycache.so") == *libasan* ]]; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
fi

# Arguments naming files of python/tests/ become their paths; others (e.g. -k NAME, given with
# --test_arg) go to pytest as they are.
files=()
for f in "$@"; do
  if [[ -e $root/python/tests/$f ]]; then files+=("$root/python/tests/$f"); else files+=("$f"); fi
done
cd "$TEST_TMPDIR"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v --rootdir="$root/python/tests" \
  --junitxml="${XML_OUTPUT_FILE:-$TEST_TMPDIR/pytest.xml}" "${files[@]}"
