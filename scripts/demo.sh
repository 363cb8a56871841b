#!/usr/bin/env bash
# The main job end to end on this machine: install, build, start asr-server,
# check its health, scrape its metrics, and stop it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default

work=$(mktemp -d /tmp/asr-demo-XXXXXX)
bin=build/bin
echo "== starting asr-server (state in $work)"
"$bin/asr-server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --state-dir "$work/state" --data-root "$work/data" --ready-file "$work/ready.json" \
  2> "$work/server.log" &
server_pid=$!
trap 'kill -9 $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  [[ -s "$work/ready.json" ]] && break
  kill -0 $server_pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
grpc_port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
metrics_port=$(sed -E 's/.*"metrics_port":([0-9]+).*/\1/' "$work/ready.json")
server=127.0.0.1:$grpc_port

echo "== asr-client health --server $server"
"$bin/asr-client" --server "$server" health
"$bin/asr-client" --server "$server" info

echo "== curl http://127.0.0.1:$metrics_port/metrics (excerpt)"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -E '^(asr_|process_)' | head -n 12

echo "== stopping asr-server with SIGTERM"
kill -TERM $server_pid
wait $server_pid
echo "asr-server exited with status $?"
trap - EXIT
