#!/usr/bin/python3
"""Summarizes the GPU check's gtest runs: gtest-NAME.json files in a folder.

Every test whose name ends in _CUDA, and every test of ln_lstm_cuda_test,
needs a GPU; on a GPU machine none of them may be skipped. Prints one JSON
object {executables: {NAME: {tests, failures, skipped, skipped_cuda}},
ok} and exits 1 unless every executable ran, nothing failed and no GPU test
was skipped.

  scripts/gtest-cuda-summary.py DIR NAME...
"""
import json
import os
import sys


def summarize(folder, names):
    executables, ok = {}, True
    for name in names:
        path = os.path.join(folder, f"gtest-{name}.json")
        try:
            report = json.load(open(path))
        except (OSError, ValueError) as e:
            executables[name] = {"error": f"no report ({e.__class__.__name__})"}
            ok = False
            continue
        skipped, skipped_cuda = [], []
        for suite in report.get("testsuites", []):
            for test in suite.get("testsuite", []):
                full = f"{suite['name']}.{test['name']}"
                if test.get("result") == "SKIPPED":
                    skipped.append(full)
                    if name == "ln_lstm_cuda_test" or test["name"].endswith("_CUDA"):
                        skipped_cuda.append(full)
        failures = report.get("failures", 0) + report.get("errors", 0)
        executables[name] = {"tests": report.get("tests", 0), "failures": failures,
                             "skipped": len(skipped), "skipped_cuda": skipped_cuda}
        ok = ok and failures == 0 and not skipped_cuda and report.get("tests", 0) > 0
    return {"executables": executables, "ok": ok}


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    summary = summarize(sys.argv[1], sys.argv[2:])
    print(json.dumps(summary))
    sys.exit(0 if summary["ok"] else 1)
