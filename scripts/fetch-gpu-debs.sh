#!/usr/bin/env bash
# Downloads (does not install) the Debian 12 packages that scripts/gpu-check.sh
# needs on a GPU machine that has CUDA PyTorch, cmake and ninja but no apt
# and no internet: the header-and-library packages model/ and features/
# build against. gpu-check.sh unpacks them with `dpkg -x` into a private
# sysroot; nothing is installed system-wide there.
#
#   scripts/fetch-gpu-debs.sh [OUT_DIR]     (default: gpu-debs/, git-ignored)
#
# Also writes OUT_DIR/tiny-corpus (scripts/make-corpus.sh --size tiny), since
# the GPU machine has no espeak-ng to synthesize it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-debs}
mkdir -p "$out"

# Build dependencies of asr::features and asr::model plus their tests and
# benchmarks, with the shared libraries they pull in (apt-get download does
# not resolve dependencies; libc and the toolchain come from the GPU machine).
packages=(
  libabsl-dev libabsl20220623
  nlohmann-json3-dev libcli11-dev
  libsndfile1-dev libsndfile1 libflac12 libvorbis0a libvorbisenc2 libogg0 libopus0 libmpg123-0 libmp3lame0
  libflac-dev libogg-dev libopus-dev
  libsoxr-dev libsoxr0 libgomp1
  libssl-dev libssl3
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev libbenchmark1debian
)
if ! command -v apt-get >/dev/null; then
  echo "fetch-gpu-debs: needs apt-get (run on the Debian development machine)" >&2
  exit 2
fi
(cd "$out" && apt-get download "${packages[@]}")
echo "fetch-gpu-debs: $(ls "$out"/*.deb | wc -l) packages in $out"

if [[ ! -f "$out/tiny-corpus/train.jsonl" ]]; then
  scripts/make-corpus.sh --size tiny "$out/tiny-corpus"
fi
du -sh "$out"
