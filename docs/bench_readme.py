#!/usr/bin/env python3
"""README.md's measured-performance tables, generated from one `whycache bench --json` report.

  python3 docs/bench_readme.py docs/bench.json         print the tables
  python3 docs/bench_readme.py --write README.md       regenerate them in place
  python3 docs/bench_readme.py --check README.md       exit 1 if they differ from their JSON

In README.md the tables sit between a line "<!-- bench-table JSON -->", which names the report
they come from (a path from the repository's root), and "<!-- end bench-table -->". Reports of
builds without optimisation are refused: their figures describe the build, not whycache.
"""

import difflib
import json
import os
import re
import sys
import textwrap

BEGIN = re.compile(r"^<!-- bench-table (\S+) -->\n", re.M)
END = "<!-- end bench-table -->\n"


class Refused(Exception):
    pass


def grouped(n):
    return f"{n:,.0f}"


def ns(value):
    """Nanoseconds as people read them: whole numbers, three digits below 100."""
    return grouped(value) if value >= 100 else f"{value:.3g}"


def ratio(value):
    return f"{value:.2f}x"


def count(value, unit):
    """A large count with an SI prefix: 1.18M mutations/s, 945 k."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{prefix} {unit}"
    return f"{value:.3g} {unit}"


def size(n):
    """A key count as the issues write it: 1M, 10M, 200k."""
    return count(n, "").strip().replace(" ", "")


def megabytes(n):
    return f"{n / 1e6:.3g} MB"


def read_rows(report):
    """The per-get table: whycache and its peers at each size of the run, with ratios."""
    sizes = [report[k] for k in ("point_get_100B", "point_get_16B") if report.get(k, {}).get(
        "measured")]
    if not sizes:
        raise Refused("the report has no point-get rows")
    rows = [
        ("whycache, one read transaction per get", "tree_ns"),
        ("whycache, one read transaction per 10 gets", "tree_txn10_ns"),
        ("`std::unordered_map`", "unordered_map_ns"),
        ("LMDB, one read transaction per get (`mdb_txn_begin`/`mdb_txn_abort`)", "lmdb_ns"),
        ("LMDB, one read transaction per get (`mdb_txn_reset`/`mdb_txn_renew`)",
         "lmdb_renew_ns"),
        ("LMDB, one read transaction per 10 gets (`mdb_txn_reset`/`mdb_txn_renew`)",
         "lmdb_renew_txn10_ns"),
    ]
    head = "| per get |"
    rule = "|---|"
    for s in sizes:
        name = f"{size(s['keys'])} keys x {s['value_bytes']:.0f} B"
        head += f" {name}: ns | vs `unordered_map` |"
        rule += "---:|---:|"
    lines = [head, rule]
    for label, key in rows:
        line = f"| {label} |"
        for s in sizes:
            line += f" {ns(s[key])} | {ratio(s[key] / s['unordered_map_ns'])} |"
        lines.append(line)
    line = "| whycache's state, bytes per key |"
    for s in sizes:
        line += f" {s['tree_state_bytes_per_key']:.0f} | |"
    lines.append(line)
    return lines


def other_rows(report):
    """One row per other measured section, in the order the run measured them."""
    rows = []
    for key, s in report.items():
        if not isinstance(s, dict) or not s.get("measured") or key.startswith("point_get_"):
            continue
        title, cells = other_row(key, s)
        rows.append(f"| {title} | {cells} |")
    return ["| what | measured |", "|---|---|"] + rows


def other_row(key, s):
    """(title, cells) of the section `key`; for the log rows, `log` is the log's name."""
    log = key.rsplit("_", 1)[-1]
    if key == "cache_get":
        return (f"get through `Cache` vs the raw tree, same file, one read transaction per get, "
                f"{size(s['keys'])} keys x 100 B",
                f"{ns(s['cache_ns'])} vs {ns(s['tree_ns'])} ns ({s['overhead_pct']:+.1f}%)")
    if key == "snapshot":
        return (f"snapshot, {size(s['keys'])} keys x 100 B random values",
                f"create {s['create_MBps']:.0f} MB/s, restore {s['restore_MBps']:.0f} MB/s of "
                f"keys and values; the file is {ratio(s['file_per_raw'])} their size")
    if key == "update_not_due":
        return "`Update()` when no poll is due", f"{ns(s['ns'])} ns"
    if key.startswith("replication_lag_"):
        return (f"replication lag, `Set` on A to readable on B, {log} log, "
                f"{s['poll_interval_ms']:.0f} ms poll",
                f"p50 {s['p50_ms']:.3g} ms, p99 {s['p99_ms']:.3g} ms ({s['samples']:.0f} samples)")
    if key.startswith("update_due_nothing_new_"):
        return (f"`Update()` polling the {log} log, nothing new",
                f"{s['us']:.3g} us CPU, {s['wall_us']:.3g} us wall")
    if key.startswith("apply_"):
        return (f"apply from the {log} log, 100 B random values",
                count(s["mutations_per_s"], "mutations/s"))
    if key == "file_log_append":
        return (f"file log append, 1,000-key batches of 100 B random values, fsync on "
                f"{s['filesystem']}",
                f"{count(s['keys_per_s'], 'keys/s')} ({grouped(s['us_per_batch'])} us per batch)")
    if key == "file_log_tail":
        return "file log tail, 1,000-key batches", count(s["mutations_per_s"], "mutations/s")
    if key == "compaction":
        return (f"file log compaction, {size(s['mutations'])} mutations over {size(s['keys'])} "
                "keys, 100 B random values",
                f"{count(s['mutations_per_s'], 'mutations/s')}; "
                f"{megabytes(s['bytes_before'])} -> {megabytes(s['bytes_after'])}")
    raise Refused(f"no README row for the report's section {key!r}: add one to {__file__}")


def tables(report, json_path):
    """The Markdown between the markers, for the report read from `json_path`."""
    build = report.get("build", {})
    if build.get("optimized") is not True:
        raise Refused(f"{json_path} is from a {build.get('mode', 'unknown')} build, not an "
                      "optimised one: rerun docs/bench.sh, which builds with --config=opt")
    m = report["machine"]
    load = report["load_average"]
    intro = (
        f"Measured {report['date']} by `{report['command']}` ({report['mode']} mode, "
        f"{report['seconds']:.0f} s), {build['mode']} build ({build['compiler']}), on "
        f"{m['cpu_model']} x {m['cores']} cores, {m['memory_bytes'] / 2**30:.0f} GiB, "
        f"{m['kernel']}; state files on {report['filesystem']}; load average "
        f"{load['before'][0]:.2f} before and {load['after'][0]:.2f} after. Each figure is the "
        f"median of {report['repetitions']} rounds; ns are CPU time of the measuring thread per "
        "get, throughputs wall clock; ratios compare peers measured in the same run, their "
        "rounds interleaved. Keys are `key:%016llx` of random numbers, gets ask for random "
        f"existing keys. Generated from `{json_path}` by `docs/bench_readme.py`; do not edit "
        "by hand.")
    intro = textwrap.fill(intro, 100, break_long_words=False, break_on_hyphens=False)
    return "\n".join([intro, ""] + read_rows(report) + [""] + other_rows(report)) + "\n"


def load(root, json_path):
    with open(os.path.join(root, json_path)) as f:
        return json.load(f)


def split(readme_text, readme_path):
    """(text before and with the opening marker, the JSON path, the tables, the rest)."""
    begin = BEGIN.search(readme_text)
    end = readme_text.find(END, begin.end()) if begin else -1
    if not begin or end < 0:
        raise Refused(f"{readme_path} has no '<!-- bench-table JSON -->' ... '{END.strip()}' "
                      "block")
    return readme_text[:begin.end()], begin.group(1), readme_text[begin.end():end], \
        readme_text[end:]


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("--"):
        report = load(".", argv[1])
        sys.stdout.write(tables(report, argv[1]))
        return 0
    if len(argv) != 3 or argv[1] not in ("--write", "--check"):
        sys.stderr.write(__doc__)
        return 2
    readme_path = argv[2]
    with open(readme_path) as f:
        text = f.read()
    head, json_path, current, tail = split(text, readme_path)
    wanted = tables(load(os.path.dirname(os.path.abspath(readme_path)), json_path), json_path)
    if argv[1] == "--write":
        if current != wanted:
            with open(readme_path, "w") as f:
                f.write(head + wanted + tail)
        return 0
    if current == wanted:
        return 0
    sys.stderr.write(f"{readme_path}: the measured-performance tables differ from what "
                     f"{json_path} gives; run `python3 docs/bench_readme.py --write README.md`"
                     " (or docs/bench.sh to measure again):\n")
    sys.stderr.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True),
                                               readme_path, "generated from " + json_path))
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (Refused, OSError, KeyError, ValueError) as e:
        sys.stderr.write(f"bench_readme: {e!r}\n" if isinstance(e, KeyError) else
                         f"bench_readme: {e}\n")
        sys.exit(1)
