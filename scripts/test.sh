#!/usr/bin/env bash
# Installs what the project needs (Debian packages), builds, and runs every
# test through CTest, ending with CTest's summary line.
#
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   ASan + UBSan build in build-asan/
#
# With ASR_TEST_DOCKER=1 (set by .ci/run) it then builds the Docker image and
# tests it for real with docker/test-image.sh (needs root; reuses this
# build's compiler cache).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=default
case "${1:-}" in
  "") ;;
  --sanitize) preset=sanitize ;;
  *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
start=$(date +%s)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
if [[ "$preset" == sanitize ]]; then
  # LibTorch and gRPC keep process-lifetime singletons; leaks are checked by
  # the soak tests instead of LeakSanitizer's exit-time report.
  # A 64 MiB quarantine (default 256) bounds the RSS the soak test allows for it.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:quarantine_size_mb=64:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
fi
ctest --preset "$preset" --parallel 2
echo "test.sh: build and tests took $(( $(date +%s) - start )) s"
if [[ "${ASR_TEST_DOCKER:-0}" == 1 && "$preset" == default ]]; then
  image_start=$(date +%s)
  docker/test-image.sh
  echo "test.sh: image test took $(( $(date +%s) - image_start )) s"
fi
