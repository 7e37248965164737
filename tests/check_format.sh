#!/usr/bin/env bash
# Fails when a C++ file of the project is not clang-formatted (Google style, 100 columns, as in
# .clang-format). Fix with: clang-format -i FILE...
set -euo pipefail

# The .clang-format in the runfiles is a link to the source tree: check the files there.
config=$(readlink -f "${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-whycache}/.clang-format" 2>/dev/null ||
  readlink -f .clang-format)
root=$(dirname "$config")
cd "$root"
dirs=()
for d in lib include cli tests; do [[ -d $d ]] && dirs+=("$d"); done
files=$(find "${dirs[@]}" -name '*.cc' -o -name '*.h' | sort)
[[ -n $files ]] || { echo "no C++ files found under $root" >&2; exit 1; }
count=$(wc -l <<<"$files")
if ! clang-format --dry-run --Werror $files; then
  echo "FAIL: the files above are not formatted; run clang-format -i on them" >&2
  exit 1
fi
echo "$count C++ files are formatted"
