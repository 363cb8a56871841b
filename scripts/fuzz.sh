#!/usr/bin/env bash
# Builds the libFuzzer target over the decoder + feature path with clang,
# ASan and UBSan, and runs it for SECONDS (default 60) from a seed corpus of
# small audio files. Exits non-zero on any finding.
#
#   scripts/fuzz.sh [SECONDS] [--build-dir DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
build="$root/build-fuzz"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    *) seconds="$1"; shift ;;
  esac
done
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not installed (scripts/install-deps.sh)" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DASR_BUILD_FUZZERS=ON \
  -DASR_BUILD_SERVER=OFF -DASR_BUILD_TESTS=OFF -DASR_BUILD_BENCHMARKS=OFF -DASR_WITH_CUDA=OFF >/dev/null
cmake --build "$build" --target asr_fuzz_features

corpus="$build/corpus"
mkdir -p "$corpus"
# Seeds: the golden WAVs (truncated to keep inputs small), each with a mode prefix.
for f in "$root"/tests/golden/features/*.wav; do
  for mode in 1 2 3 35; do
    { printf "\\x$(printf %02x $mode)\\x05\\x00\\x00"; head -c 12000 "$f"; } > "$corpus/$(basename "$f" .wav)_$mode"
  done
done
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$build/bin/asr_fuzz_features" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 "$corpus" 2>&1 | tail -n 15
echo "fuzz.sh: ${seconds} s without findings"
