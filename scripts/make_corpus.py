#!/usr/bin/python3
"""Synthesizes a connected-digits corpus in the manner of TIDIGITS (or short
word sentences) with espeak-ng, flite and festival, degraded with sox and
numpy, and writes NeMo-style JSONL manifests. Called by scripts/make-corpus.sh.

Speakers ("voices") are an espeak-ng accent + variant, a flite voice or a
festival voice: formant, statistical-parametric (clustergen, HTS) and
diphone synthesis. Dev and test use voices never heard in train: whole
accents and variants are held out, and flite's kal voice (a diphone voice;
no kal voice of any synthesizer is in train) appears only in test.
Italian, Czech and Finnish diphone voices say the digits with an accent in
train (ACCENTED_VOICES; --accented-voices). With --random-speakers, part of
the training espeak-ng utterances are spoken by speakers drawn at random
(random_speaker). Every utterance is reproducible from (seed, split, index),
whatever the number of processes.
"""
import argparse
import glob
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import wave
from multiprocessing import Pool

import numpy as np

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh"]
ESPEAK_ACCENTS = {
    "train": ["en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan"],
    "dev": ["en-029"],
    "test": ["en-us-nyc", "en-gb-x-gbcwmd"],
}
FLITE_VOICES = {"train": ["awb", "rms", "slt"], "dev": [], "test": ["kal"]}
FESTIVAL_VOICES = {"train": ["ked_diphone", "cmu_us_slt_arctic_hts"], "dev": [], "test": []}
# Diphone voices of other languages (recordings of real people, Italian, Czech
# and Finnish), made to say the English digits by spelling them in their own
# orthography: accented English from seven more human speakers, train only.
# Voice -> (text encoding festival reads, spelling of each digit word).
ACCENT_SPELLINGS = {
    "it": ("latin-1", dict(zero="ziro", one="uan", two="tu", three="tri", four="for", five="faiv", six="siks",
                           seven="seven", eight="eit", nine="nain", oh="ou")),
    "cs": ("iso-8859-2", dict(zero="zíro", one="uan", two="tů", three="trí", four="fór", five="fajv", six="siks",
                              seven="sevn", eight="ejt", nine="najn", oh="ou")),
    "fi": ("latin-1", dict(zero="siirou", one="uan", two="tuu", three="trii", four="foo", five="faiv", six="siks",
                           seven="seven", eight="eit", nine="nain", oh="ou")),
}
ACCENTED_VOICES = {"lp_diphone": "it", "pc_diphone": "it", "czech_dita": "cs", "czech_machac": "cs",
                   "czech_ph": "cs", "suo_fi_lj_diphone": "fi", "hy_fi_mv_diphone": "fi"}
SIZES = {"tiny": (240, 40, 40), "small": (1500, 150, 150), "default": (6000, 300, 300)}
EXCLUDED_VARIANTS = {"Demonic", "Tweaky", "Mr serious", "UniRobot", "anikaRobot", "fast"}


def espeak_variants():
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout.splitlines()[1:]
    names = sorted({line.split()[4].split("/")[-1] for line in out if len(line.split()) >= 5})
    names = [n for n in names if n not in EXCLUDED_VARIANTS and " " not in n]
    # Every 6th variant (offset 1) is dev-only, every 6th (offset 4) test-only.
    split = {"train": [], "dev": [], "test": []}
    for i, n in enumerate(names):
        split["dev" if i % 6 == 1 else "test" if i % 6 == 4 else "train"].append(n)
    return split


def choose_voice(rng, split, variants, many_speakers, random_share, accented):
    """Returns ('espeak', accent, variant), ('flite', voice, None),
    ('festival', voice, None) or, with `accented`, ('accented', voice, None)
    (ACCENTED_VOICES, 12% of train); in train, a `random_share` of the espeak-ng
    utterances get variant RANDOM_SPEAKER. Festival voices (train only) are
    left out of the tiny corpus (many_speakers false): its 240 utterances,
    used by quick tests, cannot cover that many speakers."""
    if split == "train":
        r = rng.random()
        if r < 0.2:
            return ("flite", rng.choice(FLITE_VOICES[split]), None)
        if many_speakers and r < 0.35:
            return ("festival", rng.choice(FESTIVAL_VOICES[split]), None)
        if accented and 0.35 <= r < 0.47:
            return ("accented", rng.choice(sorted(ACCENTED_VOICES)), None)
    elif FLITE_VOICES[split] and rng.random() < 0.25:
        return ("flite", rng.choice(FLITE_VOICES[split]), None)
    if split == "train":
        # Draws in the original order, and none at share 0: corpora made before
        # random speakers existed stay reproducible.
        accent = rng.choice(ESPEAK_ACCENTS["train"])
        random_speaker = random_share > 0 and rng.random() < random_share
        return ("espeak", accent, RANDOM_SPEAKER if random_speaker else rng.choice(variants["train"]))
    # Held-out accent with any variant, or a training accent with a held-out variant.
    if rng.random() < 0.5:
        return ("espeak", rng.choice(ESPEAK_ACCENTS[split]), rng.choice(sum(variants.values(), [])))
    return ("espeak", rng.choice(ESPEAK_ACCENTS["train"]), rng.choice(variants[split]))


RANDOM_SPEAKER = "random"


def random_speaker(rng):
    """An espeak-ng variant file (voices/!v syntax) for a speaker drawn at
    random: vocal-tract length (all formants scaled together, by sex) with
    per-formant jitter, formant heights and widths, pitch, voicing and
    consonant strength, and now and then Klatt synthesis, flutter,
    roughness, breathiness or a spectral tilt. Covers the space the named
    variants sample at a few points, so the held-out ones are new points in
    a familiar space rather than new kinds of voice."""
    female = rng.random() < 0.5
    base = rng.randint(140, 230) if female else rng.randint(60, 135)
    vtl = rng.uniform(1.0, 1.22) if female else rng.uniform(0.86, 1.06)
    lines = ["language variant", "name random", f"gender {'female' if female else 'male'}",
             f"pitch {base} {base + rng.randint(15, 130)}"]
    for k in range(9):
        freq = 100 * vtl * (rng.uniform(0.93, 1.07) if 1 <= k <= 5 else 1.0)
        lines.append(f"formant {k} {round(freq)} {rng.randint(60, 140)} {rng.randint(70, 170)}")
    lines.append(f"voicing {rng.randint(50, 150)}")
    lines.append(f"consonants {rng.randint(50, 150)} {rng.randint(50, 150)}")
    if rng.random() < 0.35:
        lines.append(f"klatt {rng.randint(1, 6)}")
    if rng.random() < 0.3:
        lines.append(f"flutter {rng.randint(0, 30)}")
    if rng.random() < 0.3:
        lines.append(f"roughness {rng.randint(0, 5)}")
    if rng.random() < 0.1:
        lines.append("breath " + " ".join(str(rng.randint(0, 40)) for _ in range(8)))
        lines.append("breathw 150 150 200 200 400 400")
    if rng.random() < 0.3:
        lines.append(f"tone 600 {rng.randint(100, 255)} 1200 {rng.randint(60, 255)} 2000 {rng.randint(30, 255)}")
    return "\n".join(lines) + "\n"


def private_espeak_data(parent):
    """Makes parent/espeak-ng-data (for espeak-ng --path=parent): links to
    every file of the system's data folder, with real folders along
    voices/!v so random speakers can be written there."""
    system = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    system = system.split("Data at:")[-1].strip()
    data = os.path.join(parent, "espeak-ng-data")
    os.makedirs(os.path.join(data, "voices", "!v"))
    for sub, own_folder in (("", "voices"), ("voices", "!v"), (os.path.join("voices", "!v"), None)):
        for name in os.listdir(os.path.join(system, sub)):
            if name != own_folder:
                os.symlink(os.path.join(system, sub, name), os.path.join(data, sub, name))


def make_text(rng, vocabulary, words):
    if vocabulary == "digits":
        return " ".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 7)))
    return " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def synthesize(rng, voice, text, path, espeak_path, tag):
    """`espeak_path` is the private data folder's parent (private_espeak_data);
    `tag` names this utterance's random-speaker file uniquely."""
    kind, name, variant = voice
    if kind == "espeak":
        path_opt, speaker_file = [], None
        if variant == RANDOM_SPEAKER:
            variant = f"random-{tag}"
            speaker_file = os.path.join(espeak_path, "espeak-ng-data", "voices", "!v", variant)
            with open(speaker_file, "w") as f:
                f.write(random_speaker(rng))
            path_opt = [f"--path={espeak_path}"]
        try:
            run(["espeak-ng"] + path_opt + ["-v", f"{name}+{variant}", "-s", str(rng.randint(110, 230)), "-p",
                 str(rng.randint(20, 80)), "-a", str(rng.randint(80, 180)), "-g", str(rng.randint(0, 4)),
                 "-w", path, text])
        finally:
            if speaker_file:
                os.remove(speaker_file)
    elif kind in ("festival", "accented"):
        encoding, spelled = "utf-8", text
        if kind == "accented":
            encoding, spelling = ACCENT_SPELLINGS[ACCENTED_VOICES[name]]
            spelled = " ".join(spelling[w] for w in text.split())
        with open(path + ".txt", "w", encoding=encoding) as f:
            f.write(spelled + "\n")
        run(["text2wave", "-eval", f"(voice_{name})", "-eval",
             f"(Parameter.set 'Duration_Stretch {rng.uniform(0.75, 1.3):.3f})", "-o", path, path + ".txt"])
    else:
        run(["flite", "-voice", name, "--setf", f"duration_stretch={rng.uniform(0.75, 1.3):.3f}",
             "--setf", f"int_f0_target_mean={rng.uniform(80, 200) if name != 'slt' else rng.uniform(150, 260):.1f}",
             "-t", text, "-o", path])


def sox_effects(rng):
    """Tempo, pitch, reverberation and band-limiting, each with a probability."""
    fx = []
    if rng.random() < 0.5:
        fx += ["tempo", "-s", f"{rng.uniform(0.8, 1.25):.3f}"]
    if rng.random() < 0.5:
        fx += ["pitch", str(rng.randint(-300, 300))]
    if rng.random() < 0.35:
        fx += ["reverb", str(rng.randint(10, 70)), "50", str(rng.randint(20, 100))]
    band = rng.random()
    if band < 0.15:
        fx += ["sinc", f"{rng.randint(200, 400)}-{rng.randint(3000, 3600)}"]  # telephone band
    elif band < 0.3:
        fx += ["lowpass", str(rng.randint(2500, 6000))]
    elif band < 0.4:
        fx += ["highpass", str(rng.randint(100, 400))]
    return fx


def colored_noise(rng_np, n, color):
    white = rng_np.standard_normal(n)
    if color == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.arange(len(spec)) + 1.0
    spec /= np.sqrt(f) if color == "pink" else f  # brown: 1/f amplitude
    noise = np.fft.irfft(spec, n)
    return noise / (np.std(noise) + 1e-12)


def read_wav(path):
    with wave.open(path) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
        return data.reshape(-1, w.getnchannels()).mean(axis=1), w.getframerate()


def write_wav(path, samples, rate):
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def make_utterance(job):
    """Returns the manifest row. A voice/effect combination that a tool
    rejects (rare) is redrawn from the same deterministic generator."""
    seed, split, index = job[:3]
    rng = random.Random(f"{seed}/{split}/{index}")
    for attempt in range(8):
        try:
            return try_utterance(rng, job)
        except (subprocess.CalledProcessError, ValueError) as e:
            last = e
    raise RuntimeError(f"{split}/{index}: gave up after 8 attempts: {last}")


def try_utterance(rng, job):
    seed, split, index, out_dir, vocabulary, words, variants, many_speakers, espeak_path, random_share, accented = job
    rng_np = np.random.default_rng(rng.getrandbits(63))
    voice = choose_voice(rng, split, variants, many_speakers, random_share, accented)
    text = make_text(rng, vocabulary, words)
    with tempfile.TemporaryDirectory() as tmp:
        raw, shaped, mixed = (os.path.join(tmp, n) for n in ("raw.wav", "shaped.wav", "mixed.wav"))
        synthesize(rng, voice, text, raw, espeak_path, f"{split}-{index}")
        run(["sox", "-R", raw, "-r", "16000", "-c", "1", "-b", "16", shaped] + sox_effects(rng) + ["rate", "16000"])
        speech, rate = read_wav(shaped)
        if len(speech) < rate // 10:
            raise ValueError("synthesized audio shorter than 0.1 s")
        peak = np.max(np.abs(speech)) + 1e-9
        speech = speech / peak * 10 ** (rng.uniform(-25, -1) / 20)  # level
        lead, tail = (np.zeros(int(rate * rng.uniform(0.05, 0.6))) for _ in range(2))
        audio = np.concatenate([lead, speech, tail])
        if rng.random() < 0.7:  # additive noise at 0-35 dB SNR
            color = rng.choice(["white", "pink", "brown"])
            noise = colored_noise(rng_np, len(audio), color)
            speech_rms = np.sqrt(np.mean(speech ** 2)) + 1e-9
            audio = audio + noise * speech_rms / 10 ** (rng.uniform(0, 35) / 20)
        audio = np.clip(audio, -0.999, 0.999)
        write_wav(mixed, audio, rate)
        # Assorted containers, rates and channel counts, as users bring them.
        kind = rng.random()
        rel = f"audio/{split}/{index:06d}"
        if kind < 0.8:
            rel += ".wav"
            run(["sox", "-R", mixed, os.path.join(out_dir, rel)])
        elif kind < 0.87:
            rel += ".flac"
            run(["sox", "-R", mixed, "-r", rng.choice(["8000", "22050"]), os.path.join(out_dir, rel)])
        elif kind < 0.94:
            rel += ".wav"
            run(["sox", "-R", mixed, "-r", "44100", "-c", "2", os.path.join(out_dir, rel)])
        else:
            rel += ".ogg"
            run(["sox", "-R", mixed, "-C", "6", os.path.join(out_dir, rel)])
    duration = len(audio) / rate
    name = f"espeak:{voice[1]}+{voice[2]}" if voice[0] == "espeak" else f"{voice[0]}:{voice[1]}"
    return dict(audio_filepath=rel, duration=round(duration, 3), text=text, voice=name)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--size", choices=sorted(SIZES), default="default")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocabulary", choices=["digits", "words"], default="digits")
    ap.add_argument("--words", type=int, default=0, metavar="N",
                    help="--vocabulary words: draw from N words of the list (chosen by the seed); 0 = all")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--random-speakers", type=float, default=0.0, metavar="FRACTION",
                    help="share of training espeak-ng utterances spoken by a random speaker (random vocal-tract "
                         "length, formants, pitch, voice source); 0 by default (see docs/training.md)")
    ap.add_argument("--accented-voices", choices=["auto", "on", "off"], default="auto",
                    help="12%% of train spoken by Italian, Czech and Finnish diphone voices (ACCENTED_VOICES) "
                         "reading the English digits spelled in their orthography; auto: on for digits unless "
                         "--size tiny (whose 240 utterances leave out the festival voices too)")
    args = ap.parse_args()
    if not 0 <= args.random_speakers <= 1:
        ap.error(f"--random-speakers {args.random_speakers}: not a fraction in [0, 1]")
    accented = args.accented_voices == "on" or (
        args.accented_voices == "auto" and args.size != "tiny" and args.vocabulary == "digits")
    if accented:
        if args.vocabulary != "digits":
            ap.error("--accented-voices on: the accented voices only know the digit words (use --vocabulary digits)")
        missing = [v for v in sorted(ACCENTED_VOICES) if not glob.glob(f"/usr/share/festival/voices/*/{v}")]
        if missing:
            sys.exit(f"make-corpus: festival voices {', '.join(missing)} are missing (scripts/install-deps.sh "
                     "installs them; or pass --accented-voices off)")
    words = []
    if args.vocabulary == "words":
        with open("/usr/share/dict/american-english") as f:
            words = sorted({w.strip().lower() for w in f if w.strip().isalpha() and w.strip().islower()
                            and 2 <= len(w.strip()) <= 9})
        if args.words > 0:
            words = sorted(random.Random(args.seed).sample(words, min(args.words, len(words))))
    variants = espeak_variants()
    counts = dict(zip(["train", "dev", "test"], SIZES[args.size]))
    for split in counts:
        os.makedirs(os.path.join(args.out_dir, "audio", split), exist_ok=True)
    espeak_path = None
    if args.random_speakers > 0:
        espeak_tmp = tempfile.TemporaryDirectory(prefix="asr-espeak-")  # removed at exit
        espeak_path = espeak_tmp.name
        private_espeak_data(espeak_path)
    jobs = [(args.seed, split, i, args.out_dir, args.vocabulary, words, variants, args.size != "tiny", espeak_path,
             args.random_speakers, accented)
            for split, n in counts.items() for i in range(n)]
    results = {s: [] for s in counts}
    total, done = len(jobs), 0
    with Pool(args.jobs) as pool:
        for job, row in zip(jobs, pool.imap(make_utterance, jobs, chunksize=8)):
            results[job[1]].append(row)
            done += 1
            if done % 50 == 0 or done == total:
                sys.stderr.write(f"\rmake-corpus: {done}/{total} utterances")
                sys.stderr.flush()
    sys.stderr.write("\n")
    for split, rows in results.items():
        with open(os.path.join(args.out_dir, f"{split}.jsonl"), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        voices = sorted({r["voice"] for r in rows})
        hours = sum(r["duration"] for r in rows) / 3600
        print(f"{split}: {len(rows)} utterances, {hours:.2f} h, {len(voices)} voices")
    train_voices = {r["voice"] for r in results["train"]}
    for split in ("dev", "test"):
        overlap = train_voices & {r["voice"] for r in results[split]}
        assert not overlap, f"{split} voices heard in train: {sorted(overlap)[:5]}"


if __name__ == "__main__":
    main()
