#!/usr/bin/env python3
"""Counts test cases from Bazel's test.xml files.

Reads test labels (one per line, as `bazel query` prints them) on stdin and prints
"PASSED FAILED SKIPPED" for them. A target without a result file, or whose result files hold
no test case (it crashed, timed out or did not build), counts as one failure. A sharded target
has one result file per shard.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def count(testlogs, label):
    package, name = label.lstrip("/").split(":")
    target = os.path.join(testlogs, package, name)
    paths = glob.glob(os.path.join(target, "test.xml")) or sorted(
        glob.glob(os.path.join(target, "shard_*_of_*", "test.xml")))
    if not paths:
        print(f"no result for {label}", file=sys.stderr)
        return 0, 1, 0
    passed = failed = skipped = 0
    for path in paths:
        if not list(ET.parse(path).getroot().iter("testcase")):
            print(f"no test case recorded in {path} for {label}", file=sys.stderr)
            failed += 1
    cases = [case for path in paths for case in ET.parse(path).getroot().iter("testcase")]
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif (case.find("skipped") is not None or case.get("result") == "skipped"
              or case.get("status") == "notrun"):
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main():
    testlogs = sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs"
    totals = [0, 0, 0]
    for line in sys.stdin:
        label = line.strip()
        if label:
            for i, n in enumerate(count(testlogs, label)):
                totals[i] += n
    print(*totals)


if __name__ == "__main__":
    main()
