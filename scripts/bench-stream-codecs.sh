#!/usr/bin/env bash
# Server CPU per minute of streamed audio, by encoding and length: one
# asr-server (1 compute thread) and `asr-client transcribe --stream` of the
# same speech as LINEAR16, FLAC and Ogg/Opus bytes, 1 to 30 minutes long,
# sent as fast as the server takes it. CPU is the server's utime + stime
# (/proc/PID/stat) across each stream. Flat rows mean linear cost; the
# LINEAR16 row is the baseline of the same run. --baseline-server BIN runs
# the FLAC rows again on another asr-server build (e.g. one that re-decodes
# the whole buffer per 16 KiB) up to --baseline-max minutes.
#
#   scripts/bench-stream-codecs.sh [--minutes "1 2 4 8 16 30"] [--model FILE]
#                                  [--baseline-server BIN] [--baseline-max 8] [--build-dir build]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build" minutes="1 2 4 8 16 30" model="" baseline="" baseline_max=8
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --baseline-server) baseline=$2; shift 2 ;;
    --baseline-max) baseline_max=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes LIST] [--model FILE] [--baseline-server BIN] [--baseline-max M] [--build-dir DIR]" >&2
       exit 2 ;;
  esac
done
py=/usr/bin/python3
work=$(mktemp -d /tmp/asr-bench-codecs-XXXXXX)
server_pid=""
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
corpus="$root/corpus-tiny"
[[ -f "$corpus/train.jsonl" ]] || "$root/scripts/make-corpus.sh" --size tiny --out "$corpus" >/dev/null
if [[ -z $model ]]; then  # a briefly trained tiny model: the decode path costs the same whatever it learned
  "$py" - "$root" "$corpus" "$work/train.json" <<'PY'
import json, sys
root, corpus, out = sys.argv[1:]
c = json.load(open(f"{root}/model/configs/tiny.json"))
c["train_manifest"], c["dev_manifest"] = f"{corpus}/train.jsonl", f"{corpus}/dev.jsonl"
c["train"].update(max_steps=20, checkpoint_every_steps=0)
json.dump(c, open(out, "w"))
PY
  "$build/bin/asr-train" --config "$work/train.json" --out "$work/model" --threads 2 >"$work/train.log" 2>&1
  model="$work/model/model.asrmodel"
fi

# The longest recording once (test utterances over and over), then each
# length cut from it and encoded: LINEAR16 WAV, FLAC (sox), Ogg/Opus
# (libsndfile through ctypes; sox cannot write Opus).
longest=$(tr ' ' '\n' <<<"$minutes" | sort -n | tail -1)
mapfile -t clips < <("$py" -c "import json,sys; [print(sys.argv[1] + '/' + json.loads(l)['audio_filepath']) for l in open(sys.argv[1] + '/test.jsonl')]" "$corpus")
i=0
for c in "${clips[@]}"; do sox "$c" -r 16000 -c 1 -b 16 "$work/clip-$((i++)).wav"; done  # the corpus mixes rates
sox "$work"/clip-*.wav "$work/clip.wav"
clip_s=$(soxi -D "$work/clip.wav")
repeats=$("$py" -c "import math; print(math.ceil($longest * 60 / $clip_s))")
sox "$work/clip.wav" "$work/long.wav" repeat $((repeats - 1))
for m in $minutes; do
  sox "$work/long.wav" "$work/$m.wav" trim 0 $((m * 60))
  sox "$work/$m.wav" "$work/$m.flac"
  "$py" - "$work/$m.wav" "$work/$m.opus" <<'PY'
import ctypes, sys, wave
sf = ctypes.CDLL("libsndfile.so.1")
class Info(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int), ("channels", ctypes.c_int),
                ("format", ctypes.c_int), ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]
w = wave.open(sys.argv[1])
pcm = w.readframes(w.getnframes())
info = Info(0, w.getframerate(), 1, 0x200000 | 0x0064, 0, 0)  # SF_FORMAT_OGG | SF_FORMAT_OPUS
sf.sf_open.restype = ctypes.c_void_p
f = sf.sf_open(sys.argv[2].encode(), 0x20, ctypes.byref(info))  # SFM_WRITE
if not f:
    sys.exit("cannot write Ogg/Opus: this libsndfile lacks Opus")
sf.sf_writef_short(ctypes.c_void_p(f), pcm, ctypes.c_int64(len(pcm) // 2))
sf.sf_close(ctypes.c_void_p(f))
PY
done

start_server() {  # start_server BIN
  "$1" --listen 127.0.0.1:0 --metrics-listen "" --state-dir "$work/state-$RANDOM" --data-root "$work" \
    --ready-file "$work/ready.json" --threads 1 --import-model "bench=$model" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do [[ -s $work/ready.json ]] && break; sleep 0.1; done
  port=$("$py" -c "import json; print(json.load(open('$work/ready.json'))['grpc_port'])")
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; rm -f "$work/ready.json"; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server_pid/stat"; }
run_row() {  # run_row LABEL ENCODING EXT MAX_MINUTES
  printf '%-24s' "$1"
  for m in $minutes; do
    if ((m > $4)); then printf '%10s' "-"; continue; fi
    local before after
    before=$(cpu_seconds)
    "$build/bin/asr-client" --server "127.0.0.1:$port" transcribe --stream --chunk-ms 1000 --no-words \
      --encoding "$2" --model bench "$work/$m.$3" >/dev/null
    after=$(cpu_seconds)
    printf '%10.3f' "$("$py" -c "print(($after - $before) / $m)")"
  done
  echo
}

echo "bench-stream-codecs: server CPU seconds per minute of audio, $(nproc) cores, asr-server --threads 1"
printf '%-24s' "minutes of audio"; for m in $minutes; do printf '%10s' "$m"; done; echo
start_server "$build/bin/asr-server"
run_row "LINEAR16" linear16 wav 100000
run_row "FLAC" flac flac 100000
run_row "Ogg/Opus" ogg-opus opus 100000
stop_server
if [[ -n $baseline ]]; then
  start_server "$baseline"
  run_row "FLAC, baseline server" flac flac "$baseline_max"
  stop_server
fi
