#!/usr/bin/python3
"""scripts/plot-training.py: draws a PNG from a train_log.jsonl, also one
without validations, and refuses a line that is not JSON with its number."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "plot-training.py")


def write_log(path, events):
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


class PlotTrainingTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "train_log.jsonl")
        self.png = os.path.join(self.dir.name, "curve.png")

    def tearDown(self):
        self.dir.cleanup()

    def run_script(self):
        return subprocess.run([sys.executable, SCRIPT, self.log, self.png], capture_output=True, text=True)

    def test_draws_loss_and_dev_cer(self):
        events = [{"kind": "step", "elapsed_seconds": 6.0 * i, "loss": 3.0 / (1 + i), "step": 20 * i}
                  for i in range(1, 60)]
        events += [{"kind": "validation", "elapsed_seconds": 60.0 * i, "dev_cer": 1.0 / (1 + i * i), "step": i}
                   for i in range(1, 6)]
        write_log(self.log, events)
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(png_size(self.png), (880, 495))  # 8 x 4.5 in at 110 dpi

    def test_draws_a_log_without_validations(self):
        write_log(self.log, [{"kind": "step", "elapsed_seconds": 1.0, "loss": 2.0, "step": 1},
                             {"kind": "step", "elapsed_seconds": 2.0, "loss": 1.5, "step": 2}])
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        png_size(self.png)

    def test_names_the_line_that_is_not_json(self):
        with open(self.log, "w") as f:
            f.write(json.dumps({"kind": "step", "elapsed_seconds": 1.0, "loss": 2.0}) + "\n{truncated\n")
        r = self.run_script()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("train_log.jsonl:2: not a JSON line", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(self.png))


if __name__ == "__main__":
    unittest.main()
