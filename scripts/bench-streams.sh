#!/usr/bin/env bash
# Streaming latency against concurrency, batched and unbatched, in one run:
# starts asr-server with MODEL, runs `asr-client bench-stream` for each
# stream count (real-time paced, 100 ms chunks), once with cross-stream
# batching (the server's defaults) and once with every stream stepped alone
# (--max-batch 1), then draws the percentiles to a PNG.
#
#   scripts/bench-streams.sh MODEL.asrmodel AUDIO(.jsonl|file) OUT_DIR [--streams "50 100 200"] [--duration 20]
#       [--threads N] [--unbatched-streams "5 10 20"]
#
# OUT_DIR/results.jsonl holds one bench-stream line per run plus "mode";
# OUT_DIR/latency.png the picture.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 3 ]] || { sed -n 2,12p "$0"; exit 2; }
model=$(realpath "$1") audio=$(realpath "$2") out=$3
shift 3
counts="50 100 200 400 500 600"
unbatched_counts="20 40 60 80"
duration=20 threads=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --streams) counts=$2; shift 2 ;;
    --unbatched-streams) unbatched_counts=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "bench-streams: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
bin=build/bin
results=$out/results.jsonl
: > "$results"
# Where it was measured, for the figure's title.
machine="$(nproc)-core $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"

run_mode() {  # mode, extra server flags, stream counts
  local mode=$1 flags=$2 list=$3 work
  work=$(mktemp -d /tmp/asr-bench-XXXXXX)
  "$bin/asr-server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --state-dir "$work/state" \
    --data-root "$work/data" --ready-file "$work/ready.json" --import-model "bench=$model" \
    --threads "$threads" --max-streams 2000 $flags 2> "$work/server.log" &
  local pid=$!
  for _ in $(seq 600); do [[ -s "$work/ready.json" ]] && break; sleep 0.1; done
  local port
  port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
  for n in $list; do
    line=$("$bin/asr-client" --server "127.0.0.1:$port" bench-stream --streams "$n" --duration "$duration" \
      --audio "$audio" --model bench || true)
    echo "bench-streams: $mode $line" >&2
    [[ -n $line ]] && echo "${line%\}}, \"mode\": \"$mode\", \"duration\": $duration, \"machine\": \"$machine\"}" >> "$results"
  done
  kill -TERM $pid; wait $pid || true
  rm -rf "$work"
}

run_mode batched "" "$counts"
run_mode unbatched "--max-batch 1" "$unbatched_counts"
/usr/bin/python3 scripts/plot-latency.py "$results" "$out/latency.png"
echo "bench-streams: $results, $out/latency.png"
