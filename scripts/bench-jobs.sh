#!/usr/bin/env bash
# Control-plane job throughput of one asr-server: N minimal training jobs
# (one step of the tiny test model, 4 dev utterances) submitted at once,
# timed from the first submission until every job is SUCCEEDED, with
# --max-concurrent-jobs 1 and then 2, same machine, same run. A job's cost
# here is the control plane's (claim, config, worker launch, events,
# export), not training: it bounds how many short jobs a replica can start,
# not how fast real jobs train. Prints jobs/minute and the median and
# slowest time from a job's creation to its end.
#
#   scripts/bench-jobs.sh [--jobs N] [--build-dir build]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=12 build="$root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "usage: $0 [--jobs N] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
bin="$build/bin"
work=$(mktemp -d /tmp/asr-bench-jobs-XXXXXX)
server_pid=
trap '[[ -n $server_pid ]] && kill $server_pid 2>/dev/null; wait 2>/dev/null; [[ -n ${ASR_KEEP:-} ]] || rm -rf "$work"' EXIT
corpus="$root/corpus-tiny"
[[ -f "$corpus/train.jsonl" ]] || "$root/scripts/make-corpus.sh" --size tiny --out "$corpus" >/dev/null
cat > "$work/config.json" <<'JSON'
{"model": {"hidden_size": 48, "num_layers": 2},
 "data": {"max_batch_frames": 3000, "max_batch_utterances": 16, "spec_augment": false},
 "train": {"epochs": 1, "max_steps": 1, "checkpoint_every_steps": 0, "log_every_steps": 1}}
JSON

run() {  # run CONCURRENT
  local dir="$work/c$1"
  mkdir -p "$dir/data/c"
  cp -r "$corpus/." "$dir/data/c/"
  head -n 4 "$corpus/dev.jsonl" > "$dir/data/c/dev.jsonl"
  "$bin/asr-server" --listen 127.0.0.1:0 --metrics-listen "" --state-dir "$dir/state" \
    --data-root "$dir/data" --ready-file "$dir/ready.json" --threads 1 \
    --max-concurrent-jobs "$1" --log-level warn > "$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do [[ -s "$dir/ready.json" ]] && break; sleep 0.1; done
  local target="127.0.0.1:$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$dir/ready.json")"
  local start ids=()
  start=$(date +%s.%N)
  for _ in $(seq "$jobs"); do
    ids+=("$("$bin/asr-client" --server "$target" train --config "$work/config.json" --manifest c/train.jsonl | head -n 1)")
  done
  while "$bin/asr-client" --server "$target" jobs | grep -qE "QUEUED|RUNNING"; do sleep 0.2; done
  local end
  end=$(date +%s.%N)
  "$bin/asr-client" --server "$target" --json jobs > "$dir/jobs.json"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
  "$py" - "$1" "$jobs" "$start" "$end" "$dir/jobs.json" <<'PY'
import json, statistics, sys
from datetime import datetime
conc, n, start, end, path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
jobs = json.load(open(path))["jobs"]
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
ok = [j for j in jobs if j.get("state") == "SUCCEEDED"]
lat = sorted(ts(j["end_time"]) - ts(j["create_time"]) for j in ok)
wall = end - start
print(f"--max-concurrent-jobs {conc}: {len(ok)}/{n} SUCCEEDED in {wall:5.1f} s = {60 * len(ok) / wall:5.1f} jobs/min;"
      f" creation to end: median {statistics.median(lat):4.1f} s, slowest {lat[-1]:4.1f} s")
PY
}

echo "bench-jobs: $jobs one-step jobs, $(nproc) cores"
run 1
run 2
