#!/bin/bash
# Measures again and regenerates what README.md's measured-performance section shows: builds
# whycache with --config=opt, runs `whycache bench --json --plot docs` once (about 3 minutes on
# two idle cores) into docs/bench.json and the plots docs/bench-*.png, and rewrites the README's
# tables from the JSON (docs/bench_readme.py; //tests/docs:readme_bench_table_test checks that
# they agree). Needs gnuplot (bazel/setup.sh installs it).
# Commit the code first: the figures are of the code in the working tree.
#
#   bash docs/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

trap 'rm -f docs/bench.json.new' EXIT
bazel build --config=opt //cli:whycache
bazel-bin/cli/whycache bench --json --plot docs >docs/bench.json.new
mv docs/bench.json.new docs/bench.json
python3 docs/bench_readme.py --write README.md
echo "bench.sh: rewrote docs/bench.json, docs/bench-*.png and README.md's tables" >&2
