#!/usr/bin/python3
"""Baseline for build/bin/asr_bench_features: torchaudio.compliance.kaldi.fbank
on 60 s of 16 kHz audio, 80 bins, project options, one thread. Prints
{"baseline": "torchaudio", "x_realtime": ...}.

    /usr/bin/python3 tests/bench/torchaudio_fbank_baseline.py
"""
import json
import time

import torch
import torchaudio.compliance.kaldi as kaldi

torch.set_num_threads(1)
wave = (torch.randn(1, 16000 * 60) * 3000).float()
opts = dict(num_mel_bins=80, dither=0.0, energy_floor=0.0, snip_edges=False)
kaldi.fbank(wave, **opts)  # warm-up
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    kaldi.fbank(wave, **opts)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"baseline": "torchaudio", "x_realtime": round(60 / best, 1)}))
