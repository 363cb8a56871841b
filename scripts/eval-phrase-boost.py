#!/usr/bin/python3
"""Phrase boosting measured on a held-out split (docs/results.md#phrase-boosting).

    scripts/eval-phrase-boost.py --model runs/words-chars/model.asrmodel \\
        --manifest corpus-words/test.jsonl [--phrases 30] [--phrase-words 2] [--boost 1 2 3] [--beam 8] [--out DIR]

1. Decodes the split without phrases (beam search, asr-eval).
2. Picks up to --phrases phrases, one per utterance that decoding got
   wrong: --phrase-words consecutive reference words, not all of them in
   the hypothesis in that order, that no other utterance of the split holds
   (as an application that knows "new york" or an account number is coming
   would boost it). Those
   utterances are the boosted set; the rest, which hold none of the
   phrases, the unboosted set.
3. Decodes the split again with all the phrases, at each --boost, and
   prints per boost: phrases recognized (the words in the hypothesis, in
   order) in the boosted set, and CER/WER of the unboosted set, next to no
   boosting.

Exit status 1 when, at the default boost (the first --boost), no phrase
goes from wrong to right or the unboosted set's CER rises by more than
--max-degradation points. Writes DIR/phrases.txt and DIR/<boost>.log.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile


# The edit distance and the asr-eval --verbose log reader of cer-by-voice.py.
_spec = importlib.util.spec_from_file_location(
    "cer_by_voice", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cer-by-voice.py"))
cer_by_voice = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cer_by_voice)
edit_distance = cer_by_voice.edit_distance


def decode(args, out, name, phrases_file=None, boost=None):
    """asr-eval --verbose over the manifest -> {manifest line: (ref, hyp)}."""
    cmd = [str(args.bin / "asr-eval"), "--model", args.model, "--manifest", args.manifest, "--beam",
           str(args.beam), "--verbose"]
    if phrases_file:
        lines = [f"{p}:{boost}" for p in phrases_file.read_text().split("\n") if p]
        boosted = out / f"phrases-{boost}.txt"
        boosted.write_text("\n".join(lines) + "\n")
        cmd += ["--phrases", str(boosted)]
    log = out / f"{name}.log"
    with open(log, "w") as err:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=err)
    return cer_by_voice.read_log(log)


def rates(samples, keys):
    chars = char_errors = words = word_errors = 0
    for k in keys:
        ref, hyp = samples[k]
        chars += len(ref)
        char_errors += edit_distance(ref, hyp)
        words += len(ref.split())
        word_errors += edit_distance(ref.split(), hyp.split())
    return 100.0 * char_errors / max(chars, 1), 100.0 * word_errors / max(words, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--phrases", type=int, default=30, help="how many phrases to boost")
    ap.add_argument("--phrase-words", type=int, default=2, help="words per phrase")
    ap.add_argument("--boost", type=float, nargs="+", default=[2.0], help="boosts to try; the first is judged")
    ap.add_argument("--beam", type=int, default=8)
    ap.add_argument("--max-degradation", type=float, default=0.5, help="CER points the unboosted set may lose")
    ap.add_argument("--bin", type=pathlib.Path, default=pathlib.Path(os.environ.get("ASR_BIN_DIR", "build/bin")))
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="asr-phrase-boost-"))
    out.mkdir(parents=True, exist_ok=True)

    base = decode(args, out, "no-phrases")

    def pairs(text):
        w, n = text.split(), args.phrase_words
        return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]

    pair_count = {}
    for ref, _ in base.values():
        for p in set(pairs(ref)):
            pair_count[p] = pair_count.get(p, 0) + 1
    phrases, boosted = [], {}
    for k in sorted(base):
        ref, hyp = base[k]
        if len(phrases) == args.phrases:
            break
        wrong = [p for p in pairs(ref) if pair_count[p] == 1 and f" {p} " not in f" {hyp} "]
        if wrong:
            phrases.append(wrong[0])
            boosted[k] = wrong[0]
    if not phrases:
        sys.exit("eval-phrase-boost: decoding got every word right; nothing to boost")
    phrases_file = out / "phrases.txt"
    phrases_file.write_text("\n".join(phrases) + "\n")
    rest = [k for k in base if k not in boosted]
    base_cer, base_wer = rates(base, rest)
    print(f"{len(base)} utterances; {len(phrases)} phrases, each {args.phrase_words} words of one of them that "
          f"decoding got wrong ({out}/phrases.txt); the other {len(rest)} utterances hold none")
    print(f"{'boost':>6} | {'phrases right':>13} | {'unboosted set CER':>17} | {'WER':>6} | boosted set CER")
    print(f"{'none':>6} | {0:>6} of {len(phrases):<4} | {base_cer:>16.2f}% | {base_wer:>5.2f}% | "
          f"{rates(base, boosted)[0]:.2f}%")
    verdict = 0
    for i, boost in enumerate(args.boost):
        run = decode(args, out, f"boost-{boost:g}", phrases_file, boost)
        right = sum(1 for k, p in boosted.items() if f" {p} " in f" {run[k][1]} ")
        cer, wer = rates(run, rest)
        print(f"{boost:>6g} | {right:>6} of {len(phrases):<4} | {cer:>16.2f}% | {wer:>5.2f}% | "
              f"{rates(run, boosted)[0]:.2f}%")
        if i == 0 and (right == 0 or cer - base_cer > args.max_degradation):
            verdict = 1
    print(json.dumps({"phrases": len(phrases), "unboosted_utterances": len(rest), "out": str(out)}))
    return verdict


if __name__ == "__main__":
    sys.exit(main())
