#!/usr/bin/python3
"""Concatenates NeMo JSONL manifests into one on stdout, each audio_filepath
made absolute (resolved against its manifest's folder, as the dataset
reader does), every other field kept. Example: a larger evaluation set from
the test splits of several corpus seeds, same held-out voices:

    for s in 2 3 4; do scripts/make-corpus.sh --size small --seed $s /tmp/extra-s$s; done
    scripts/merge-manifests.py corpus-default/test.jsonl /tmp/extra-s{2,3,4}/test.jsonl > /tmp/bigtest.jsonl
"""
import json
import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        folder = os.path.dirname(os.path.abspath(path))
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    row["audio_filepath"] = os.path.join(folder, row["audio_filepath"])
                except (ValueError, KeyError, TypeError) as e:
                    sys.exit(f"{path}:{n}: not a manifest line with audio_filepath ({e})")
                print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
