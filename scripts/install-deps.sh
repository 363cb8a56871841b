#!/usr/bin/env bash
# Installs every Debian 12 package this project needs to build, test, run the
# demo and regenerate its golden data. Idempotent and non-interactive: it runs
# apt-get only for packages that are missing, and `apt-get update` only when
# the package lists are absent or older than a day.
#
# Usage: scripts/install-deps.sh [--print]   (--print lists the packages only)
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  # tensors + autograd (CPU LibTorch 1.13) and the BLAS it should use
  libtorch-dev libopenblas0-pthread
  # RPC
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libssl-dev
  # audio decoding and resampling
  libsndfile1-dev libsoxr-dev
  # metrics, job store, CLI parsing, JSON, logging, status types
  prometheus-cpp-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libabsl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (libFuzzer + sanitizers)
  clang libclang-rt-14-dev
  # default corpus synthesis
  espeak-ng sox libsox-fmt-all wamerican
  # promtool + a real Prometheus server for metrics tests
  prometheus
  # golden-data generators and plots
  python3-torch python3-torchaudio python3-numpy python3-matplotlib
)

if [[ "${1:-}" == "--print" ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
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
