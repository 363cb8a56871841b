#!/usr/bin/python3
"""CER of a corpus split by the degradations make-corpus applied, from one or
more `asr-eval --verbose` logs (errors and characters summed over the logs).

    scripts/errors-by-condition.py [--seed N] corpus-default/test.jsonl eval.log [eval2.log ...]

make-corpus does not record its per-utterance choices, so this replays them:
every utterance's random draws come from (seed, split, index) alone, and
running make_corpus.try_utterance with the tools stubbed out (no audio is
made) yields the same sox effects and SNR. Rows whose replayed voice differs
from the manifest's (an utterance a tool rejected and make-corpus redrew)
are left out and counted. Groups: flite kal, and the espeak-ng voices.
"""
import argparse
import collections
import importlib.util
import os
import random
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import make_corpus  # noqa: E402

spec = importlib.util.spec_from_file_location("cer_by_voice", os.path.join(here, "cer-by-voice.py"))
cer_by_voice = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cer_by_voice)


def stub_tools():
    """Makes make_corpus run no tool and write no file (for replay)."""
    make_corpus.run = lambda cmd: None
    make_corpus.read_wav = lambda path: (np.full(16000, 0.1), 16000)
    make_corpus.write_wav = lambda *args: None


def replay(seed, split, index, variants):
    """Returns (voice, sox effects, SNR in dB or None) of one utterance;
    needs stub_tools()."""
    seen = {}
    real_uniform = random.Random.uniform

    def uniform(self, a, b):
        value = real_uniform(self, a, b)
        if (a, b) == (0, 35):  # the additive-noise SNR draw
            seen["snr"] = value
        return value

    real_effects = make_corpus.sox_effects
    make_corpus.sox_effects = lambda rng: seen.setdefault("fx", real_effects(rng))
    random.Random.uniform = uniform
    try:
        rng = random.Random(f"{seed}/{split}/{index}")
        job = (seed, split, index, "/nonexistent", "digits", [], variants, True, None, 0.0, False)
        row = make_corpus.try_utterance(rng, job)
    finally:
        random.Random.uniform = real_uniform
        make_corpus.sox_effects = real_effects
    return row["voice"], " ".join(seen["fx"]), seen.get("snr")


CONDITIONS = [
    ("no noise", lambda fx, snr: snr is None), ("SNR < 10 dB", lambda fx, snr: snr is not None and snr < 10),
    ("SNR 10-20 dB", lambda fx, snr: snr is not None and 10 <= snr < 20),
    ("SNR >= 20 dB", lambda fx, snr: snr is not None and snr >= 20),
    ("reverb", lambda fx, snr: "reverb" in fx), ("no reverb", lambda fx, snr: "reverb" not in fx),
    ("pitch shift", lambda fx, snr: "pitch" in fx), ("no pitch shift", lambda fx, snr: "pitch" not in fx),
    ("tempo change", lambda fx, snr: "tempo" in fx), ("telephone band", lambda fx, snr: "sinc" in fx),
    ("low-pass", lambda fx, snr: "lowpass" in fx), ("high-pass", lambda fx, snr: "highpass" in fx),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1, help="make-corpus --seed of the corpus")
    ap.add_argument("manifest")
    ap.add_argument("logs", nargs="+")
    args = ap.parse_args()
    split = os.path.basename(args.manifest).split(".")[0]
    rows = cer_by_voice.read_manifest(args.manifest)
    results = [cer_by_voice.read_log(path) for path in args.logs]
    variants = make_corpus.espeak_variants()
    stub_tools()
    errors, chars, counts = collections.Counter(), collections.Counter(), collections.Counter()
    redrawn = 0
    for line, row in rows.items():
        voice, fx, snr = replay(args.seed, split, line - 1, variants)
        if voice != row["voice"]:
            redrawn += 1
            continue
        group = "flite kal" if voice == "flite:kal" else "espeak-ng" if voice.startswith("espeak:") else voice
        for name, holds in CONDITIONS:
            if not holds(fx, snr):
                continue
            counts[group, name] += 1
            for result in results:
                if line in result:
                    ref, hyp = result[line]
                    errors[group, name] += cer_by_voice.edit_distance(ref, hyp)
                    chars[group, name] += len(ref)
    for group in sorted({g for g, _ in counts}):
        print(group)
        for name, _ in CONDITIONS:
            if chars[group, name]:
                print(f"  {name:15s} {counts[group, name]:4d} utterances  CER {100 * errors[group, name] / chars[group, name]:5.1f}%")
    print(f"{redrawn} of {len(rows)} rows left out (redrawn by make-corpus)")


if __name__ == "__main__":
    main()
