#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan and runs each for
# SECONDS (default 60) from seed corpora of small audio files: features
# (the decoder + feature path) and streams (the streaming request path:
# config + chunk sequences through a RecognitionStream). Exits non-zero on
# any finding.
#
#   scripts/fuzz.sh [SECONDS] [--target features|streams|all] [--build-dir DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60 target=all
build="$root/build-fuzz"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --target) target="$2"; shift 2 ;;
    *) seconds="$1"; shift ;;
  esac
done
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not installed (scripts/install-deps.sh)" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DASR_BUILD_FUZZERS=ON \
  -DASR_BUILD_SERVER=OFF -DASR_BUILD_TESTS=OFF -DASR_BUILD_BENCHMARKS=OFF -DASR_WITH_CUDA=OFF >/dev/null
targets=(features streams)
[[ $target != all ]] && targets=("$target")
for t in "${targets[@]}"; do cmake --build "$build" --target "asr_fuzz_$t"; done

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "${targets[@]}"; do
  corpus="$build/corpus-$t"
  mkdir -p "$corpus"
  # Seeds: the golden WAVs (truncated to keep inputs small); for features
  # each with a mode prefix.
  for f in "$root"/tests/golden/features/*.wav; do
    if [[ $t == features ]]; then
      for mode in 1 2 3 35; do
        { printf "\\x$(printf %02x $mode)\\x05\\x00\\x00"; head -c 12000 "$f"; } > "$corpus/$(basename "$f" .wav)_$mode"
      done
    else
      head -c 12000 "$f" > "$corpus/$(basename "$f" .wav)"
    fi
  done
  echo "fuzz.sh: asr_fuzz_$t for ${seconds} s"
  if ! "$build/bin/asr_fuzz_$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 "$corpus" 2>&1 | tail -n 40; then
    echo "fuzz.sh: asr_fuzz_$t found a problem (reproducer above)" >&2
    exit 1
  fi
  echo "fuzz.sh: asr_fuzz_$t ran ${seconds} s without findings"
done
