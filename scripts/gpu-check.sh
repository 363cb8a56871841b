#!/usr/bin/env bash
# The one prepared run for a GPU machine (CUDA PyTorch 2.x, nvcc, cmake,
# ninja; no gRPC, no apt, no internet). Builds only what needs the GPU
# (model/, features/, every test executable that holds a _CUDA test, and
# the LSTM benchmark) against that machine's LibTorch, runs those tests, the
# CUDA benchmarks and a tiny fp32-vs-bf16 training comparison, and prints
# one JSON summary line last. Exits 1 if the build failed or any GPU test
# failed, did not run or was skipped (scripts/gtest-cuda-summary.py).
# Budget: under 8 minutes on a 16-core H100 machine.
#
#   scripts/fetch-gpu-debs.sh             # here, on the Debian machine: .debs + tiny corpus into gpu-debs/
#   scripts/gpu-check.sh [--debs gpu-debs] [--out DIR]   # there, e.g. through the device tool with carry gpu-debs
#
# Artifacts (test JSON, benchmark JSON, training logs) go to --out (default
# $OUT when set, else build-gpu/check).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
debs=gpu-debs
out=${OUT:-build-gpu/check}
while [[ $# -gt 0 ]]; do
  case $1 in
    --debs) debs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/*.log "$out"/*.json "$out"/train-*  # a rerun on the same machine reports only itself
log() { echo "gpu-check: $*" >&2; }
started=$(date +%s)

# --- Debian libraries unpacked into a private sysroot --------------------------
sysroot=$root/build-gpu/sysroot
if compgen -G "$debs/*.deb" >/dev/null; then
  mkdir -p "$sysroot"
  for d in "$debs"/*.deb; do dpkg -x "$d" "$sysroot" || dpkg-deb -x "$d" "$sysroot"; done
fi
multiarch=$sysroot/usr/lib/x86_64-linux-gnu
export PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$multiarch/pkgconfig:$sysroot/usr/share/pkgconfig
export LD_LIBRARY_PATH=$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# LibTorch 2.12 and later need C++20 for their headers.
read -r torch_prefix torch_abi torch_version cxx_standard < <(python3 -c 'import torch
v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2])
print(torch.utils.cmake_prefix_path, int(torch._C._GLIBCXX_USE_CXX11_ABI), torch.__version__, 20 if v >= (2, 12) else 17)')
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
# NCCL's header: pip's nvidia-nccl package (beside the CUDA PyTorch), else the toolkit's.
nccl_inc=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null)
[[ -f $nccl_inc/nccl.h ]] || nccl_inc=""
log "GPU: ${gpu:-none}; torch $torch_version at $torch_prefix (CXX11 ABI $torch_abi, C++$cxx_standard)"
if [[ $torch_abi != 1 ]]; then
  # Debian's abseil is built with the C++11 std::string ABI; an old-ABI
  # LibTorch cannot link with it in one binary.
  log "this LibTorch uses the pre-C++11 string ABI; Debian's libraries need the C++11 ABI"
fi

# --- configure + build ------------------------------------------------------------
# Every test executable that holds a _CUDA test (they skip on a CPU build, so
# this is the only place they run), and ln_lstm_cuda_test, all of which needs a GPU.
mapfile -t cuda_tests < <( (echo ln_lstm_cuda_test
  grep -rlE --include='*_test.cc' '^TEST(_F)?\([A-Za-z0-9_]+, [A-Za-z0-9_]+_CUDA\)' tests |
    xargs -r -n1 basename | sed 's/\.cc$//') | sort -u)
log "CUDA test executables: ${cuda_tests[*]}"
build_rc=0
# Another compiler than Debian's: its new warnings are reported, not fatal.
# Debian's multiarch headers (OpenSSL's configuration.h) come last.
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DASR_BUILD_SERVER=OFF -DASR_WITH_CUDA=ON \
  -DASR_WERROR=OFF -DCMAKE_CXX_STANDARD="$cxx_standard" -DPKG_CONFIG_EXECUTABLE=/nonexistent \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" -DCMAKE_CUDA_ARCHITECTURES=native \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$sysroot/usr;$multiarch/cmake" -DOPENSSL_ROOT_DIR="$sysroot/usr" \
  -DOPENSSL_CRYPTO_LIBRARY="$multiarch/libcrypto.so.3" -DOPENSSL_SSL_LIBRARY="$multiarch/libssl.so.3" \
  -DCMAKE_INCLUDE_PATH="$sysroot/usr/include" -DCMAKE_LIBRARY_PATH="$multiarch" \
  -DCMAKE_CXX_FLAGS="-idirafter $sysroot/usr/include/x86_64-linux-gnu" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$multiarch" ${nccl_inc:+-DASR_NCCL_INCLUDE_DIR="$nccl_inc"} \
  >"$out/configure.log" 2>&1 || build_rc=$?
nccl_built=$(grep -q "ASR_HAVE_NCCL" "$out/configure.log" && echo true || echo false)
log "NCCL backend linked: $nccl_built (nccl.h: ${nccl_inc:-from the CUDA toolkit, if any})"
if [[ $build_rc == 0 ]]; then
  # -k 0: every compile error in one run (device time is short).
  timeout 330 cmake --build build-gpu --target "${cuda_tests[@]}" asr_bench_lstm \
    -- -k 0 >"$out/build.log" 2>&1 || build_rc=$?
  # asr-train apart (it holds the NCCL backend, never compiled against this
  # LibTorch before): its failure costs the training runs, not the tests.
  timeout 200 cmake --build build-gpu --target asr-train -- -k 0 >"$out/build-train.log" 2>&1 ||
    { log "asr-train did not build:"; grep -E -A6 "error|undefined reference" "$out/build-train.log" | head -60 >&2; }
else
  tail -40 "$out/configure.log" >&2
fi
built=$(( $(date +%s) - started ))
log "build rc=$build_rc after ${built}s"
if [[ $build_rc != 0 && -f $out/build.log ]]; then
  grep -E -A6 "error|undefined reference" "$out/build.log" | head -120 >&2
fi

# --- tests, benchmark, tiny training ----------------------------------------------
tests_rc=-1 bench_rc=-1 fp32_rc=-1 bf16_rc=-1 nccl_rc=-1  # -1: not run
if [[ $build_rc == 0 ]]; then
  tests_rc=0
  for t in "${cuda_tests[@]}"; do
    timeout 120 "build-gpu/bin/$t" --gtest_output="json:$out/gtest-$t.json" >"$out/$t.log" 2>&1 || tests_rc=1
  done
  if ! grep -q '"failures": 0' "$out/gtest-ln_lstm_cuda_test.json" 2>/dev/null; then
    # graph capture or the kernels? the same tests with direct launches
    ASR_CUDA_GRAPHS=0 timeout 120 build-gpu/bin/ln_lstm_cuda_test >"$out/ln_lstm_cuda_test_nographs.log" 2>&1
    log "ln_lstm_cuda_test without CUDA graphs: rc=$?"
  fi
  timeout 200 build-gpu/bin/asr_bench_lstm --benchmark_filter=_CUDA --benchmark_min_time=0.5 \
    --benchmark_out="$out/bench.json" --benchmark_out_format=json >"$out/bench.log" 2>&1; bench_rc=$?
  if [[ -f $debs/tiny-corpus/train.jsonl && -x build-gpu/bin/asr-train ]]; then
    for precision in fp32 bf16; do
      python3 - "$root/model/configs/tiny.json" "$debs/tiny-corpus" "$precision" >"$out/tiny-$precision.json" <<'EOF'
import json, os, sys
cfg = json.load(open(sys.argv[1]))
corpus = os.path.abspath(sys.argv[2])
cfg["train_manifest"], cfg["dev_manifest"] = f"{corpus}/train.jsonl", f"{corpus}/dev.jsonl"
cfg.setdefault("train", {}).update(device="cuda", precision=sys.argv[3], max_steps=300, log_every_steps=10,
                                   time_budget_minutes=0, checkpoint_every_steps=0)
print(json.dumps(cfg))
EOF
      timeout 90 build-gpu/bin/asr-train --config "$out/tiny-$precision.json" --out "$out/train-$precision" \
        >"$out/train-$precision.log" 2>&1
      declare "${precision}_rc=$?"
    done
    # Two ranks over NCCL, one GPU each (NCCL refuses two ranks on one GPU).
    if [[ $nccl_built == true && $gpus -ge 2 ]]; then
      port=$((29500 + RANDOM % 1000)) pids=()
      for r in 0 1; do
        RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
          timeout 120 build-gpu/bin/asr-train --config "$out/tiny-fp32.json" --out "$out/train-nccl" \
          --collective-timeout 60 >"$out/train-nccl-$r.log" 2>&1 &
        pids+=($!)
      done
      nccl_rc=0
      for p in "${pids[@]}"; do wait "$p" || nccl_rc=1; done
    else
      log "two-rank NCCL training not run: NCCL linked $nccl_built, $gpus GPU(s)"
    fi
  fi
fi

# What failed, on stderr (the device tool returns the output's tail).
[[ -f $out/ln_lstm_cuda_test.log ]] && grep "worst error" "$out/ln_lstm_cuda_test.log" >&2
for f in "${cuda_tests[@]}" ln_lstm_cuda_test_nographs; do
  [[ -f $out/$f.log ]] && grep -E -B2 -A12 "Failure|FAILED|terminate|what\(\)" "$out/$f.log" | head -40 >&2
done
for f in bench train-fp32 train-bf16 train-nccl-0 train-nccl-1; do
  [[ -f $out/$f.log ]] && grep -q -i -E "error|terminate|what\(\)" "$out/$f.log" && tail -15 "$out/$f.log" >&2
done

# --- one JSON summary -------------------------------------------------------------
# Fails (exit 1) when any GPU test failed, was skipped or did not run.
tests_summary=$(python3 scripts/gtest-cuda-summary.py "$out" "${cuda_tests[@]}")
tests_ok=$?
python3 - "$out" "$build_rc" "$tests_rc" "$tests_summary" "$bench_rc" "$fp32_rc" "$bf16_rc" "${gpu:-none}" \
  "$built" "$(( $(date +%s) - started ))" "$nccl_built" "$nccl_rc" "$gpus" <<'EOF'
import json, os, re, sys
out, build, tests, tests_summary, bench, fp32, bf16, gpu, built, total, nccl_built, nccl, gpus = sys.argv[1:]
def losses(precision):
    path = os.path.join(out, f"train-{precision}", "train_log.jsonl")
    try:
        rows = [json.loads(l) for l in open(path)]
    except Exception:
        return {}
    return {r["step"]: r["loss"] for r in rows if r.get("kind") == "step"}
ratios = []
for line in open(os.path.join(out, "bench.log")) if os.path.exists(os.path.join(out, "bench.log")) else []:
    if line.startswith('{"device": "cuda"'):
        ratios.append(json.loads(line))
steps = []
try:
    for b in json.load(open(os.path.join(out, "bench.json")))["benchmarks"]:
        if b["name"].startswith("BM_LnLstmStep_CUDA"):
            steps.append({"streams": int(b["name"].split("/")[1]), "us": round(b["real_time"], 1)})
except Exception:
    pass
a, b = losses("fp32"), losses("bf16")
common = sorted(set(a) & set(b))
curve = None
if common:
    rel = [abs(a[s] - b[s]) / max(abs(a[s]), 1e-6) for s in common]
    curve = {"steps": common[-1], "fp32_final_loss": a[common[-1]], "bf16_final_loss": b[common[-1]],
             "max_rel_diff": max(rel), "mean_rel_diff": sum(rel) / len(rel), "tolerance_mean_rel": 0.05}
print(json.dumps({"gpu": gpu, "build_rc": int(build), "build_seconds": int(built), "total_seconds": int(total),
                  "cuda_tests": {"rc": int(tests), **json.loads(tests_summary)},
                  "bench_rc": int(bench), "fwd_bwd_vs_cudnn": ratios, "step": steps,
                  "train_rc": {"fp32": int(fp32), "bf16": int(bf16)}, "bf16_vs_fp32_loss": curve,
                  "nccl": {"linked": nccl_built == "true", "gpus": int(gpus), "two_rank_rc": int(nccl),
                           "two_rank_final_loss": (lambda l: l[max(l)] if l else None)(losses("nccl")),
                           "one_process_final_loss": a[max(a)] if a else None}}))
EOF
[[ $build_rc == 0 && $tests_ok == 0 ]]
