#!/usr/bin/python3
"""scripts/gtest-cuda-summary.py fails the GPU check on a skipped, failed or missing GPU test."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "gtest-cuda-summary.py")


def report(tests):
    """A gtest JSON report of (suite, name, result) triples."""
    suites = {}
    for suite, name, result in tests:
        suites.setdefault(suite, []).append({"name": name, "status": "RUN", "result": result})
    failures = sum(1 for _, _, r in tests if r == "FAILED")
    return {"tests": len(tests), "failures": failures, "errors": 0,
            "testsuites": [{"name": s, "testsuite": t} for s, t in suites.items()]}


class GtestCudaSummaryTest(unittest.TestCase):
    def run_summary(self, reports, names):
        with tempfile.TemporaryDirectory() as d:
            for name, r in reports.items():
                with open(os.path.join(d, f"gtest-{name}.json"), "w") as f:
                    json.dump(r, f)
            p = subprocess.run([sys.executable, SCRIPT, d, *names], capture_output=True, text=True)
            return p.returncode, json.loads(p.stdout)

    def test_all_ran(self):
        rc, s = self.run_summary({
            "ln_lstm_test": report([("LnLstmTest", "MatchesCpuOnGpu_CUDA", "COMPLETED"),
                                    ("LnLstmTest", "Other", "SKIPPED")]),
            "ln_lstm_cuda_test": report([("LnLstmCudaTest", "Graphs", "COMPLETED")])},
            ["ln_lstm_test", "ln_lstm_cuda_test"])
        self.assertEqual(rc, 0, s)
        self.assertTrue(s["ok"])
        self.assertEqual(s["executables"]["ln_lstm_test"]["skipped"], 1)

    def test_a_skipped_cuda_test_fails(self):
        rc, s = self.run_summary(
            {"ln_lstm_test": report([("LnLstmTest", "MatchesCpuOnGpu_CUDA", "SKIPPED")])}, ["ln_lstm_test"])
        self.assertEqual(rc, 1)
        self.assertEqual(s["executables"]["ln_lstm_test"]["skipped_cuda"], ["LnLstmTest.MatchesCpuOnGpu_CUDA"])

    def test_any_skip_in_the_gpu_only_executable_fails(self):
        rc, _ = self.run_summary(
            {"ln_lstm_cuda_test": report([("LnLstmCudaTest", "Graphs", "SKIPPED")])}, ["ln_lstm_cuda_test"])
        self.assertEqual(rc, 1)

    def test_a_failure_or_a_missing_report_fails(self):
        rc, _ = self.run_summary(
            {"ln_lstm_test": report([("LnLstmTest", "MatchesCpuOnGpu_CUDA", "FAILED")])}, ["ln_lstm_test"])
        self.assertEqual(rc, 1)
        rc, s = self.run_summary({}, ["ln_lstm_test"])
        self.assertEqual(rc, 1)
        self.assertIn("error", s["executables"]["ln_lstm_test"])


if __name__ == "__main__":
    unittest.main()
