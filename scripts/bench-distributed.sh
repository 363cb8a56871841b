#!/usr/bin/env bash
# Data parallelism inside one process (thread replicas) against across
# processes (c10d + Gloo over loopback), same config, same machine, same
# run: the default model's architecture (model/configs/default.json) on the
# tiny corpus, gradient_groups 2 so both compute the same two groups per
# step. Alternates the two setups ROUNDS times and prints, per run, the
# median training frames/s over the step windows after warm-up (feature
# cache filled), step time, and for the processes the allreduce time per
# step (waiting for the slower rank included) and its share of the step.
# Then the allreduce alone: torch.distributed (Debian's python3-torch, the
# same Gloo) summing a float64 buffer the size of the model's gradients
# between 2 processes, for the bandwidth a scaling estimate needs.
#
#   scripts/bench-distributed.sh [--steps N] [--rounds R] [--build-dir build]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=100 rounds=2 build="$root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "usage: $0 [--steps N] [--rounds R] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
work=$(mktemp -d /tmp/asr-bench-dist-XXXXXX)
trap 'rm -rf "$work"' EXIT
corpus="$root/corpus-tiny"
[[ -f "$corpus/train.jsonl" ]] || "$root/scripts/make-corpus.sh" --size tiny --out "$corpus" >/dev/null
"$py" - "$root" "$corpus" "$work" "$steps" <<'PY'
import json, sys
root, corpus, work, steps = sys.argv[1:]
# A dev set of 4 utterances: validation (once per epoch) must not weigh on throughput.
with open(f"{work}/dev.jsonl", "w") as dev:
    for line in open(f"{corpus}/dev.jsonl").readlines()[:4]:
        e = json.loads(line)
        e["audio_filepath"] = f"{corpus}/{e['audio_filepath']}"
        dev.write(json.dumps(e) + "\n")
c = json.load(open(f"{root}/model/configs/default.json"))
c["train_manifest"] = f"{corpus}/train.jsonl"
c["dev_manifest"] = f"{work}/dev.jsonl"
c["train"].update(max_steps=int(steps), time_budget_minutes=0, checkpoint_every_steps=0, log_every_steps=10,
                  gradient_groups=2)
json.dump(c, open(f"{work}/config.json", "w"))
PY

summary() {  # summary NAME OUT
  "$py" - "$1" "$2/train_log.jsonl" "$steps" <<'PY'
import json, statistics, sys
name, log, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
ev = [json.loads(l) for l in open(log)]
win = [e for e in ev if e["kind"] == "step" and e["step"] > max(30, steps // 3)]
fps = statistics.median(e["frames_per_second"] for e in win)
step = statistics.median(e["step_seconds"] for e in win)
ar = statistics.median(e["allreduce_seconds"] for e in win)
print(f"{name:34s} {fps:9.0f} frames/s  step {1000 * step:6.1f} ms  allreduce {1000 * ar:5.1f} ms "
      f"({100 * ar / step:4.1f}% of the step)")
PY
}

echo "bench-distributed: $(nproc) cores, $steps steps, default architecture, tiny corpus, gradient_groups 2"
for r in $(seq 1 "$rounds"); do
  out="$work/threads-$r"
  "$build/bin/asr-train" --config "$work/config.json" --out "$out" --threads 2 >"$out.log" 2>&1
  summary "1 process, 2 thread replicas" "$out"
  out="$work/procs-$r"
  /usr/bin/torchrun --nnodes 1 --nproc_per_node 2 --master_port $((29600 + r)) -r 2 -t 2 \
    --log_dir "$out-torchrun" --no_python "$build/bin/asr-train" --config "$work/config.json" --out "$out" \
    --threads 1 >"$out.log" 2>&1
  summary "2 processes x 1 thread (Gloo)" "$out"
done

# The allreduce alone, outside the trainer: no rank waits for another's compute.
params=$(grep -o '"message":"model: [0-9]* parameters' "$work/threads-1/train_log.jsonl" | head -1 | grep -o '[0-9]*' | tail -1)
cat > "$work/allreduce.py" <<'PY'
import os, sys, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
n = int(sys.argv[1])
buf = torch.ones(n, dtype=torch.float64)
for _ in range(5):
    dist.all_reduce(buf)
times = []
for _ in range(50):
    dist.barrier()
    t = time.perf_counter()
    dist.all_reduce(buf)
    times.append(time.perf_counter() - t)
if dist.get_rank() == 0:
    times.sort()
    med = times[len(times) // 2]
    print(f"allreduce alone, 2 processes (Gloo, loopback): {8 * n / 2**20:.1f} MiB float64 in {1000 * med:.2f} ms "
          f"median, {8 * n / med / 1e9:.2f} GB/s algorithm bandwidth")
PY
/usr/bin/torchrun --nnodes 1 --nproc_per_node 2 --master_port 29650 -r 2 -t 2 --log_dir "$work/ar-torchrun" \
  "$work/allreduce.py" "$params" 2>/dev/null | grep allreduce
