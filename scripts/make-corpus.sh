#!/usr/bin/env bash
# Synthesizes the default training corpus: connected digit strings (1-7 of
# zero..nine, oh) spoken by espeak-ng, flite and festival voices (some of them
# other languages' voices, with an accent) with varied speed,
# pitch and level, degraded with noise, reverberation, tempo/pitch changes
# and band-limiting, in assorted containers. No download.
#
#   scripts/make-corpus.sh [--size tiny|small|default] [--seed N] [--vocabulary digits|words] [--words N] [--jobs N]
#                          [--accented-voices auto|on|off] [--random-speakers FRACTION] OUT_DIR
#
# Writes OUT_DIR/{train,dev,test}.jsonl (NeMo manifests: audio_filepath
# relative to OUT_DIR, duration, text, voice) and OUT_DIR/audio/. Dev and
# test voices are never heard in train. Deterministic for a given seed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for tool in espeak-ng flite text2wave sox; do
  command -v "$tool" >/dev/null || { echo "make-corpus: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done
exec /usr/bin/python3 "$here/make_corpus.py" "$@"
