#!/usr/bin/python3
"""CER per voice group of a corpus split, from `asr-eval --verbose`.

    build/bin/asr-eval --model M --manifest corpus-default/test.jsonl --verbose 2> eval.log
    scripts/cer-by-voice.py corpus-default/test.jsonl eval.log

The manifest's `voice` field (written by make-corpus.sh) names the voice;
groups are the synthesizer (espeak-ng, flite, festival) plus, for espeak-ng,
whether the accent itself or only the variant is new to training. Log
entries pair with manifest rows by the line number asr-eval prints
("utt: LINE PATH"); rows asr-eval skipped are reported as missing.
"""
import collections
import json
import sys

TRAIN_ACCENTS = {"en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan"}  # make_corpus.py


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, row[0] = row[:], i
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
    return row[-1]


def group(voice):
    synth, name = voice.split(":", 1)
    if synth != "espeak":
        return voice
    return "espeak-ng, held-out variant" if name.split("+")[0] in TRAIN_ACCENTS else "espeak-ng, held-out accent"


def read_manifest(path):
    """Manifest line number (from 1) -> row."""
    return {n: json.loads(line) for n, line in enumerate(open(path), 1) if line.strip()}


def read_log(path):
    """Manifest line number -> (reference, hypothesis), from asr-eval --verbose."""
    log = [line for line in open(path).read().splitlines() if line[:5] in ("utt: ", "ref: ", "hyp: ")]
    decoded = {}
    for utt, ref, hyp in zip(log[0::3], log[1::3], log[2::3]):
        if not (utt.startswith("utt: ") and ref.startswith("ref: ") and hyp.startswith("hyp: ")):
            sys.exit(f"{path}: expected utt/ref/hyp lines from asr-eval --verbose, got {utt!r}")
        decoded[int(utt[5:].split(" ", 1)[0])] = (ref[5:], hyp[5:])
    return decoded


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = read_manifest(sys.argv[1])
    decoded = read_log(sys.argv[2])
    missing = sorted(set(rows) - set(decoded))
    if missing:
        print(f"not decoded (skipped by asr-eval): manifest lines {missing[:10]}", file=sys.stderr)
    totals = collections.defaultdict(lambda: [0, 0, 0])  # errors, reference characters, utterances
    for line_no, (ref, hyp) in sorted(decoded.items()):
        row = rows[line_no]
        if row["text"] != ref:
            sys.exit(f"manifest line {line_no} says {row['text']!r} but the log's reference is {ref!r}")
        for key in (group(row.get("voice", "unknown:unknown")), "all"):
            t = totals[key]
            t[0] += edit_distance(ref, hyp)
            t[1] += len(ref)
            t[2] += 1
    for key, (errors, chars, utts) in sorted(totals.items(), key=lambda kv: kv[0] == "all"):
        print(f"{key:32s} {utts:4d} utterances  CER {100 * errors / max(chars, 1):5.1f}%")


if __name__ == "__main__":
    main()
