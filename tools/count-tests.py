#!/usr/bin/env python3
"""Counts test cases from meson's JUnit logs (GoogleTest cases, via protocol 'gtest').

Prints one line "N passed, N failed[, N skipped]" and exits 1 if any failed or a log is
missing (a build that never ran its tests must not look green)."""
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
missing = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        missing.append(path)
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
if missing:
    print("missing test logs (build or test run did not happen): " + ", ".join(missing))
    failed += len(missing)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
