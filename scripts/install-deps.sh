#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs. The single list of
# dependencies: the Docker images install through this script too.
# Idempotent and non-interactive: apt-get runs only for missing packages,
# and `apt-get update` only when the package lists are absent or older
# than a day.
#
#   scripts/install-deps.sh              everything: build, tests, corpus, golden data, plots
#   scripts/install-deps.sh --build      compilers and -dev packages only (Docker build stage)
#   scripts/install-deps.sh --runtime    shared libraries the binaries need (Docker runtime stage)
#   scripts/install-deps.sh --torchrun   Debian's torchrun (the Docker trainer stage)
#   ... --without-torch                  skip Debian's LibTorch (an image bringing a CUDA LibTorch)
#   ... --print                          list the packages instead of installing them
set -euo pipefail

# Shared libraries the executables load at run time.
RUNTIME=(
  libopenblas0-pthread libgrpc++1.51 libgrpc29 libprotobuf32 libsndfile1 libsoxr0 libflac12 libogg0 libopus0 libpq5
  libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 libsqlite3-0 libspdlog1.10 libfmt9 libabsl20220623 libssl3
  ca-certificates
)
RUNTIME_TORCH=(libtorch1.13 libgloo0)
# Debian's torchrun, for images that launch asr-train under it.
TORCHRUN=(python3-torch)
# Toolchain and headers to build.
BUILD=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libssl-dev
  libsndfile1-dev libsoxr-dev libflac-dev libogg-dev libopus-dev
  prometheus-cpp-dev libsqlite3-dev libpq-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
)
BUILD_TORCH=(libtorch-dev libgloo-dev)
# Tests, fuzzing, the default corpus, golden data and plots.
TOOLS=(
  curl clang libclang-rt-14-dev clang-format
  espeak-ng flite festival festvox-kdlpc16k festvox-us-slt-hts sox libsox-fmt-all wamerican
  festvox-italp16k festvox-itapc16k festival-czech festvox-czech-dita festvox-czech-machac festvox-czech-ph
  festvox-suopuhe-lj festvox-suopuhe-mv
  prometheus openssl postgresql-15 nginx-light
  python3-grpcio python3-protobuf python3-tqdm
  chromium chromium-driver python3-selenium
  python3-torch python3-torchaudio python3-numpy python3-matplotlib python3-yaml
  nodejs npm
  slurmctld slurmd slurm-client munge
)

mode=all torch=1 print=0
for arg in "$@"; do
  case "$arg" in
    --build) mode=build ;;
    --runtime) mode=runtime ;;
    --torchrun) mode=torchrun ;;
    --without-torch) torch=0 ;;
    --print) print=1 ;;
    *) echo "usage: scripts/install-deps.sh [--build|--runtime|--torchrun] [--without-torch] [--print]" >&2; exit 2 ;;
  esac
done

PACKAGES=("${RUNTIME[@]}")
[[ $torch == 1 ]] && PACKAGES+=("${RUNTIME_TORCH[@]}")
[[ $mode == torchrun ]] && PACKAGES=("${TORCHRUN[@]}")
if [[ $mode == build || $mode == all ]]; then
  PACKAGES+=("${BUILD[@]}")
  [[ $torch == 1 ]] && PACKAGES+=("${BUILD_TORCH[@]}")
fi
[[ $mode == all ]] && PACKAGES+=("${TOOLS[@]}")

if [[ $print == 1 ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# A command that another package already provides (e.g. npm bundled with
# a NodeSource nodejs, which conflicts with Debian's npm) counts as present.
declare -A provided_by_command=([npm]=npm)
missing=()
for p in "${PACKAGES[@]}"; do
  if [[ -n "${provided_by_command[$p]:-}" ]] && command -v "${provided_by_command[$p]}" >/dev/null; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
lists=/var/lib/apt/lists
if [[ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
