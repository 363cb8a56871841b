#!/usr/bin/env bash
# Builds docker/Dockerfile without a Docker daemon and checks the image for
# real: buildah bud (chroot isolation) from a debian:bookworm-slim base made
# locally with debootstrap (no registry is reachable here), then runs
# asr-server inside the image with buildah run and, from outside, checks
# health, uploads the tiny corpus, trains and publishes a tiny model through
# asr-client, streams a transcription against it, checks the container runs
# as non-root, and reports the image size.
#
#   docker/test-image.sh          (root; installs buildah, podman, debootstrap if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "test-image: $*"; }

need=()
for p in buildah podman debootstrap; do command -v "$p" >/dev/null || need+=("$p"); done
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing ${need[*]}"
  [[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah podman debootstrap fuse-overlayfs >/dev/null
fi

work=$(mktemp -d /tmp/asr-image-XXXXXX)
cleanup() {
  [[ -n "${server_pid:-}" ]] && kill -9 "$server_pid" 2>/dev/null || true
  [[ -n "${ctr:-}" ]] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

base=localhost/debian:bookworm-slim
if ! podman image exists "$base"; then
  log "creating $base with debootstrap"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
  rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb
  tar -C "$work/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

# The build context is exactly what a clone holds (tracked and untracked,
# not ignored files), never local build trees or corpora.
context="$work/context"
mkdir -p "$context"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$context" 2>/dev/null || true

image=localhost/asr-server:test
start=$(date +%s)
log "building $image"
# The host's compiler cache (filled by scripts/test.sh's build) serves the
# build stage: same Debian compiler, flags and source-relative paths.
ccache_dir=$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")
mkdir -p "$ccache_dir"
buildah bud --isolation chroot --pull=never --layers -v "$ccache_dir:/ccache:rw" -f docker/Dockerfile \
  --build-arg BASE="$base" -t "$image" "$context" \
  > "$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
log "built in $(( $(date +%s) - start )) s"
size=$(podman image inspect "$image" --format '{{.Size}}')
log "image size: $(( size / 1048576 )) MiB"

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[[ "$user" == asr ]] || { log "image user is '$user', want asr"; exit 1; }
ctr=$(buildah from --pull=never "$image")
uid=$(buildah run --isolation chroot "$ctr" -- id -u)
[[ "$uid" != 0 ]] || { log "container runs as root"; exit 1; }
log "runs as uid $uid (user $user)"

grpc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
buildah run --isolation chroot --env ASR_LISTEN=0.0.0.0:$grpc_port --env ASR_METRICS_LISTEN=0.0.0.0:$metrics_port \
  "$ctr" -- asr-server --ready-file /var/lib/asr/ready.json --threads 1 > "$work/server.log" 2>&1 &
runner=$!
client="$root/build/bin/asr-client --server 127.0.0.1:$grpc_port"
for _ in $(seq 300); do
  $client --timeout 1 health >/dev/null 2>&1 && break
  kill -0 $runner 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
log "health: $($client health)"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q '^asr_build_info' && log "metrics: ok"
# The server itself (not `buildah run` or the chroot helper, whose command
# lines also name it).
server_pid=$(pgrep -f "^/usr/local/bin/asr-server --ready-file" | head -1)

corpus="$work/corpus"
"$root/scripts/make-corpus.sh" --size tiny "$corpus" >/dev/null 2>&1
cat > "$work/tiny.json" <<'JSON'
{"model": {"hidden_size": 96, "num_layers": 2},
 "data": {"max_batch_frames": 3000, "max_batch_utterances": 16, "spec_augment": false},
 "optimizer": {"lr": 0.003}, "schedule": {"warmup_steps": 10},
 "train": {"epochs": 50, "max_steps": 900, "checkpoint_every_steps": 300}}
JSON
job=$($client train --config "$work/tiny.json" --upload "$corpus" --watch 2>"$work/train.log" | head -1)
grep -q "state SUCCEEDED" "$work/train.log" || { cat "$work/train.log"; exit 1; }
log "trained job $job"
$client publish "$job" digits
# ~25 s of training: a model that transcribes (dev CER ~0.3), so the stream
# below must come back with words.
read -r test_file reference < <(python3 -c "import json; r=json.loads(open('$corpus/test.jsonl').readline()); print('$corpus/'+r['audio_filepath'], r['text'])")
log "streaming $test_file (reference: $reference)"
$client --json transcribe --stream --realtime --interim --model digits "$test_file" > "$work/stream.jsonl"
final=$(python3 -c "
import json, sys
rs = [json.loads(l) for l in open('$work/stream.jsonl')]
finals = [r['results'][0] for r in rs if r.get('results') and r['results'][0].get('is_final')]
interims = [r for r in rs if r.get('results') and not r['results'][0].get('is_final')]
assert finals and interims, 'expected interim and final results'
print(finals[-1]['alternatives'][0].get('transcript', ''))")
log "final transcript: '$final' ($(grep -c . "$work/stream.jsonl") responses)"
[[ -n "$final" ]] || { log "empty final transcript"; exit 1; }
kill -TERM "$server_pid"
wait $runner || true
grep -q "stopped" "$work/server.log" && log "server stopped cleanly"
log "OK (image $(( size / 1048576 )) MiB)"
