#!/usr/bin/env bash
# The main job end to end on this machine, through the service:
#   install, build, synthesize the default digits corpus, start asr-server,
#   upload the corpus, train the default model through asr-client (live
#   progress), publish it, evaluate it on the held-out-voice test split,
#   stream a test utterance in real time with interim and final results,
#   start asr-web (open the printed http://127.0.0.1:PORT/ for the live
#   transcription page and the training dashboard; with a terminal the demo
#   waits for Enter), and stop both cleanly.
#
#   scripts/demo.sh            default corpus and model (~15 min of training on 2 cores)
#   scripts/demo.sh --quick    tiny corpus and model (a few minutes in all)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  *) echo "usage: scripts/demo.sh [--quick]" >&2; exit 2 ;;
esac
if [[ $quick == 1 ]]; then size=tiny config=model/configs/tiny.json; else size=default config=model/configs/default.json; fi

scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default

bin=build/bin
corpus=corpus-$size
if [[ ! -s $corpus/test.jsonl ]]; then
  echo "== synthesizing the $size corpus into $corpus/"
  scripts/make-corpus.sh --size "$size" "$corpus"
fi

# OpenBLAS picks the GEMM kernels for this CPU unless OPENBLAS_CORETYPE
# names others. Some hosts set it (OPENBLAS_CORETYPE=Haswell, say, so that
# numbers repeat across CPUs); on an AVX-512 CPU that makes training a third
# slower, and the demo trains against a 15-minute clock. The demo therefore
# lets OpenBLAS choose; ASR_KEEP_OPENBLAS_CORETYPE=1 keeps the variable.
if [[ -n "${OPENBLAS_CORETYPE:-}" && "${ASR_KEEP_OPENBLAS_CORETYPE:-0}" != 1 ]]; then
  echo "== OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE is set here: unset for the demo, so that OpenBLAS picks" \
       "the kernels for this CPU (ASR_KEEP_OPENBLAS_CORETYPE=1 keeps it)"
  unset OPENBLAS_CORETYPE
fi

work=$(mktemp -d /tmp/asr-demo-XXXXXX)
# This machine is the demo's alone: jobs train on every core (a job runs with
# the server's --threads, whatever its config's train.threads says).
echo "== starting asr-server (state in $work)"
"$bin/asr-server" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --state-dir "$work/state" --data-root "$work/data" --ready-file "$work/ready.json" --threads "$(nproc)" \
  2> "$work/server.log" &
server_pid=$!
# On failure the state stays for a look; on success it goes.
trap 'kill -9 $server_pid 2>/dev/null || true; echo "demo: failed; the server log and state are in $work" >&2' EXIT
for _ in $(seq 600); do
  [[ -s "$work/ready.json" ]] && break
  kill -0 $server_pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done
grpc_port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
metrics_port=$(sed -E 's/.*"metrics_port":([0-9]+).*/\1/' "$work/ready.json")
client="$bin/asr-client --server 127.0.0.1:$grpc_port"
echo "   compute: $(grep -o -m1 '[^;]*GEMMs.*' "$work/server.log" | sed 's/^ //')"
$client health

echo "== uploading $corpus and training ($config)"
start=$(date +%s)
job=$($client train --config "$config" --upload "$corpus" --watch)
echo "   job $job finished in $(( $(date +%s) - start )) s"
$client checkpoints "$job"

echo "== publishing the exported model (train.export_model) as 'digits', and downloading it"
$client publish "$job" digits
model_file="$work/digits.asrmodel"
$client models download digits --out "$model_file"

echo "== evaluating on the held-out-voice test split ($corpus/test.jsonl)"
echo "   greedy:  $("$bin/asr-eval" --model "$model_file" --manifest "$corpus/test.jsonl")"
echo "   beam 8:  $("$bin/asr-eval" --model "$model_file" --manifest "$corpus/test.jsonl" --beam 8)"
if [[ $quick == 1 ]]; then
  echo "   (--quick trains the tiny model for a smoke test: a CER this high is what it reaches. Without"
  echo "    --quick the default model trains for longer and reads about 5% CER: docs/results.md)"
fi

test_file="$corpus/$(head -1 "$corpus/test.jsonl" | sed -E 's/.*"audio_filepath": "([^"]+)".*/\1/')"
echo "== streaming $test_file in real time (reference: $(head -1 "$corpus/test.jsonl" | sed -E 's/.*"text": "([^"]+)".*/\1/'))"
$client transcribe --stream --realtime --interim --model digits "$test_file"

echo "== metrics excerpt"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -E '^asr_(training_jobs|streams_total|audio_processed|training_steps)' || true

echo "== starting asr-web, the browser pages"
"$bin/asr-web" --listen "127.0.0.1:${ASR_WEB_PORT:-0}" --server "127.0.0.1:$grpc_port" \
  --ready-file "$work/web.json" 2> "$work/web.log" &
web_pid=$!
trap 'kill -9 $server_pid $web_pid 2>/dev/null || true; echo "demo: failed; the logs and state are in $work" >&2' EXIT
for _ in $(seq 100); do [[ -s "$work/web.json" ]] && break; sleep 0.1; done
web_url="http://127.0.0.1:$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$work/web.json")"
curl -fsS "$web_url/readyz" >/dev/null
echo "   published models as the pages see them: $(curl -fsS "$web_url/api/models" | head -c 160)"
if [[ -t 0 ]]; then
  echo "== open $web_url/ (live transcription from your microphone, or drop a file) and"
  echo "   $web_url/dashboard.html (the training run, checkpoints, models); press Enter to stop"
  read -r _
else
  echo "== (with a terminal the demo would now wait while you open $web_url/)"
fi

echo "== stopping asr-web and asr-server"
kill -TERM $web_pid $server_pid
wait $web_pid $server_pid
trap - EXIT
rm -rf "$work"
echo "demo: done"
