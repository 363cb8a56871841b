#!/usr/bin/python3
"""Writes reference features for tests/features/fbank_golden_test.cc.

Independent implementation: torchaudio.compliance.kaldi (Debian's
python3-torchaudio 0.13). Audio is synthesized with espeak-ng and sox so
nothing is downloaded. Run from the repository root:

    /usr/bin/python3 tests/golden/make_feature_golden.py

Outputs tests/golden/features/{audio}.wav (16-bit PCM), {audio}__{case}.npy
(float32 [frames, dim], computed in float64) and cases.json (the options of every case, in the
project's option names). torchaudio's defaults that differ from Kaldi's are
always passed explicitly (dither, energy_floor, snip_edges, num_mel_bins).
torchaudio has no "sine" window; for that case its window function is
replaced by sin(pi n / (N - 1)), Kaldi's definition.
"""
import json
import math
import os
import subprocess
import tempfile

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "features")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_audio():
    """Returns {name: (int16 samples, rate)} after writing each to OUT."""
    audio = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "speech.wav")
        run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, "seven three oh nine"])
        for name, rate, extra in [("speech16k", 16000, []), ("speech8k", 8000, [])]:
            path = os.path.join(OUT, name + ".wav")
            run(["sox", "-R", raw, "-r", str(rate), "-b", "16", "-c", "1", path, "dither", "-s"] + extra)
        run(["sox", "-R", "-n", "-r", "16000", "-b", "16", "-c", "1", os.path.join(OUT, "noise16k.wav"),
             "synth", "1.3", "whitenoise", "vol", "0.3"])
        run(["sox", "-R", "-n", "-r", "16000", "-b", "16", "-c", "1", os.path.join(OUT, "silence16k.wav"),
             "trim", "0", "0.5"])
    import wave
    for name in ["speech16k", "speech8k", "noise16k", "silence16k"]:
        with wave.open(os.path.join(OUT, name + ".wav")) as w:
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            audio[name] = (data, w.getframerate())
    return audio


# Each case: (name, kind, options in the project's names). Options absent
# take the project defaults listed in BASE.
BASE = dict(frame_shift_ms=10.0, frame_length_ms=25.0, dither=0.0, preemph_coeff=0.97,
            remove_dc_offset=True, window_type="povey", round_to_power_of_two=True,
            blackman_coeff=0.42, snip_edges=False, num_mel_bins=80, low_freq=20.0, high_freq=0.0,
            use_energy=False, energy_floor=0.0, raw_energy=True, htk_compat=False,
            use_log_fbank=True, use_power=True)
MFCC_BASE = {k: v for k, v in BASE.items() if k not in ("use_log_fbank", "use_power")}
MFCC_BASE.update(num_mel_bins=23, use_energy=True, num_ceps=13, cepstral_lifter=22.0)

CASES = [
    ("fbank_default", "fbank", {}),
    ("fbank_hamming_snip", "fbank", dict(window_type="hamming", snip_edges=True)),
    ("fbank_hanning", "fbank", dict(window_type="hanning")),
    ("fbank_rectangular_snip", "fbank", dict(window_type="rectangular", snip_edges=True)),
    ("fbank_blackman", "fbank", dict(window_type="blackman", blackman_coeff=0.40)),
    ("fbank_sine_snip", "fbank", dict(window_type="sine", snip_edges=True)),
    ("fbank_energy_raw", "fbank", dict(use_energy=True, num_mel_bins=40)),
    ("fbank_energy_windowed_floor_htk", "fbank",
     dict(use_energy=True, raw_energy=False, energy_floor=1.0, htk_compat=True, num_mel_bins=23)),
    ("fbank_magnitude", "fbank", dict(use_power=False)),
    ("fbank_no_pow2", "fbank", dict(round_to_power_of_two=False, num_mel_bins=40)),
    ("fbank_freq_range", "fbank", dict(low_freq=64.0, high_freq=-400.0, num_mel_bins=64)),
    ("fbank_no_preemph_no_dc", "fbank", dict(preemph_coeff=0.0, remove_dc_offset=False)),
    ("fbank_frames_20_5", "fbank", dict(frame_length_ms=20.0, frame_shift_ms=5.0, num_mel_bins=40)),
    ("fbank_linear", "fbank", dict(use_log_fbank=False, num_mel_bins=40)),
    ("mfcc_default", "mfcc", {}),
    ("mfcc_no_lifter_snip", "mfcc", dict(cepstral_lifter=0.0, snip_edges=True)),
    ("mfcc_40_20_no_energy", "mfcc", dict(num_mel_bins=40, num_ceps=20, use_energy=False)),
    ("mfcc_htk_windowed_energy", "mfcc", dict(htk_compat=True, raw_energy=False, energy_floor=1.0)),
]


def torchaudio_features(kind, o, wave, rate):
    common = dict(
        blackman_coeff=o["blackman_coeff"], dither=o["dither"], energy_floor=o["energy_floor"],
        frame_length=o["frame_length_ms"], frame_shift=o["frame_shift_ms"], high_freq=o["high_freq"],
        htk_compat=o["htk_compat"], low_freq=o["low_freq"], num_mel_bins=o["num_mel_bins"],
        preemphasis_coefficient=o["preemph_coeff"], raw_energy=o["raw_energy"],
        remove_dc_offset=o["remove_dc_offset"], round_to_power_of_two=o["round_to_power_of_two"],
        sample_frequency=float(rate), snip_edges=o["snip_edges"], use_energy=o["use_energy"],
        window_type=o["window_type"])
    if kind == "fbank":
        return kaldi.fbank(wave, use_log_fbank=o["use_log_fbank"], use_power=o["use_power"], **common)
    return kaldi.mfcc(wave, num_ceps=o["num_ceps"], cepstral_lifter=o["cepstral_lifter"], **common)


def main():
    os.makedirs(OUT, exist_ok=True)
    original_window = kaldi._feature_window_function

    def window_with_sine(window_type, window_size, blackman_coeff, device, dtype):
        if window_type == "sine":
            n = torch.arange(window_size, dtype=torch.float64)
            return torch.sin(math.pi * n / (window_size - 1)).to(device=device, dtype=dtype)
        return original_window(window_type, window_size, blackman_coeff, device, dtype)

    kaldi._feature_window_function = window_with_sine
    # torchaudio builds its DCT matrix, lifter and mel banks with the default
    # dtype; make that float64 so the reference is not float32-limited.
    torch.set_default_dtype(torch.float64)
    audio = make_audio()
    manifest = []
    for audio_name, (samples, rate) in audio.items():
        # float64 throughout: the reference is the exact definition, not
        # float32 rounding (low-energy bins of loud frames differ by ~1e-2
        # between two float32 implementations).
        wave = torch.from_numpy(samples.astype(np.float64)).unsqueeze(0)  # int16 range
        for case, kind, overrides in CASES:
            if rate != 16000 and case not in ("fbank_default", "mfcc_default", "fbank_energy_raw"):
                continue
            o = dict(MFCC_BASE if kind == "mfcc" else BASE)
            o.update(overrides)
            feats = torchaudio_features(kind, o, wave, rate).numpy().astype(np.float32)
            out = f"{audio_name}__{case}.npy"
            np.save(os.path.join(OUT, out), feats)
            manifest.append(dict(audio=audio_name + ".wav", sample_rate=rate, case=case, type=kind,
                                 options=o, reference=out, shape=list(feats.shape)))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest)} reference feature sets to {OUT}")


if __name__ == "__main__":
    main()
