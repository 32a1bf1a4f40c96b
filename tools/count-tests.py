#!/usr/bin/env python3
"""Counts test cases from meson's JUnit logs (GoogleTest cases, via protocol 'gtest').

Prints one line "N passed, N failed[, N skipped]" and exits 1 if any failed or a log is
missing (a build that never ran its tests must not look green).

A test program that meson killed (timeout) or that died before GoogleTest wrote its report
leaves no cases in the JUnit log; meson's JSON log beside it (X.json for X.junit.xml, as
`meson test --logbase X` writes them) still has the test with its result. Each such test that did not pass and has no failing case in the JUnit log counts as
one failure, so "0 failed" never hides a timeout."""
import json
import os
import sys
import xml.etree.ElementTree as ET

BAD = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "INTERRUPT"}

passed = failed = skipped = 0
missing = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        missing.append(path)
        continue
    # Where a failing case names its test: GoogleTest suites are "project.TEST NAME.Suite",
    # other tests are one case named "TEST NAME".
    failing = []
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failing.append(suite.get("name", "") + ".")
                failing.append(case.get("name", "") + ".")
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    testlog = path[: -len(".junit.xml")] + ".json" if path.endswith(".junit.xml") else path + ".json"
    try:
        with open(testlog) as f:
            results = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        missing.append(testlog)
        continue
    for t in results:
        if t.get("result") not in BAD:
            continue
        name = t.get("name", "")
        if any(name + "." in f for f in failing):
            continue  # its failing cases are counted above
        print(f"{os.path.dirname(path)}: {name}: {t.get('result')} (no test case reported it)")
        failed += 1
if missing:
    print("missing test logs (build or test run did not happen): " + ", ".join(missing))
    failed += len(missing)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
