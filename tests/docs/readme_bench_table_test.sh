#!/bin/bash
# README.md's measured-performance tables are exactly what docs/bench_readme.py generates from
# the `whycache bench --json` report the README names; and the check this rests on notices a
# figure edited by hand and refuses a report of an unoptimised build.
set -u

README="$1"
GENERATOR="$2"
WORK="$(mktemp -d -p "${TEST_TMPDIR:-}" readme-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
FAILURES=0

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

python3 "$GENERATOR" --check "$README" ||
  fail "README.md's tables are not what their report generates (diff above)"

# The same check on copies: one figure changed by hand, then a report of a fastbuild binary.
json="$(sed -n 's/^<!-- bench-table \([^ ]*\) -->$/\1/p' "$README")"
[[ -n "$json" ]] || fail "README.md names no report in a '<!-- bench-table JSON -->' line"
mkdir -p "$WORK/$(dirname "$json")"
cp "$(dirname "$README")/$json" "$WORK/$json"
sed -E 's/^(\| whycache, one read transaction per get \| )([0-9])/\19\2/' "$README" \
  >"$WORK/README.md"
cmp -s "$README" "$WORK/README.md" && fail "found no whycache row to edit in README.md"
python3 "$GENERATOR" --check "$WORK/README.md" >/dev/null 2>"$WORK/err" &&
  fail "the check passed a README whose figure was edited by hand"
grep -q "differ" "$WORK/err" || fail "the check did not say what differs: $(cat "$WORK/err")"

cp "$README" "$WORK/README.md"
sed -i 's/"optimized":true/"optimized":false/' "$WORK/$json"
python3 "$GENERATOR" --check "$WORK/README.md" >/dev/null 2>"$WORK/err" &&
  fail "the check accepted a report of a build without optimisation"
grep -q "not an optimised one" "$WORK/err" ||
  fail "the refusal does not say why: $(cat "$WORK/err")"

[[ $FAILURES -eq 0 ]] || exit 1
echo "all checks passed"
