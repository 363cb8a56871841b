#!/usr/bin/env bash
# Renders every kustomization under docker/k8s with kubectl kustomize and
# validates the objects offline against the Kubernetes API schemas
# (scripts/k8s/validate.mjs: kubernetes-models plus a strict field check,
# PyTorchJob against the kubeflow.org/v1 CRD's fields). Checks that the
# validator itself rejects a misspelled field, and that the training config
# in the manifests is model/configs/default.json with the manifests moved.
# For the server: the grace period outlasts the longest stream plus the
# shutdown grace and the preStop, probes use grpc.health.v1 on the gRPC
# port, the pod runs non-root on a read-only root filesystem, and the HPA's
# metric is the one the prometheus-adapter rule serves and the server
# exports.
#   tests/scripts/k8s_manifests_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:?usage: k8s_manifests_test.sh BUILD_DIR}/k8s-validate
mkdir -p "$work"
py=/usr/bin/python3

# kubernetes-models from the npm registry, pinned by the lock file; once per build dir.
if ! cmp -s "$root/scripts/k8s/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
  cp "$root/scripts/k8s/package.json" "$root/scripts/k8s/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$root/scripts/k8s/validate.mjs" "$work/"

to_json() { "$py" -c 'import sys, yaml, json; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'; }

status=0
while IFS= read -r kustomization; do
  dir=$(dirname "$kustomization")
  name=${dir#"$root"/}
  kubectl kustomize "$dir" | to_json > "$work/rendered.json"
  if (cd "$work" && node validate.mjs rendered.json | sed "s|^|$name: |"); then :; else status=1; fi
done < <(find "$root/docker/k8s" -name kustomization.yaml | sort)

# The validator must fail on a misspelled field (kubernetes-models alone passes it).
kubectl kustomize "$root/docker/k8s/training/indexed-job" | to_json |
  "$py" -c 'import sys, json
objs = json.load(sys.stdin)
for o in objs:
    if o["kind"] == "Job":
        o["spec"]["template"]["spec"]["subdomian"] = o["spec"]["template"]["spec"].pop("subdomain")
json.dump(objs, sys.stdout)' > "$work/misspelled.json"
if (cd "$work" && node validate.mjs misspelled.json > misspelled.log); then
  echo "FAIL: the validator accepted spec.template.spec.subdomian"; status=1
elif ! grep -q "subdomian: not a field" "$work/misspelled.log"; then
  echo "FAIL: the validator did not name the misspelled field:"; cat "$work/misspelled.log"; status=1
fi

"$py" - "$root" <<'PY' || status=1
import json, sys
root = sys.argv[1]
default = json.load(open(f"{root}/model/configs/default.json"))
k8s = json.load(open(f"{root}/docker/k8s/training/base/config.json"))
for key in ("train_manifest", "dev_manifest"):
    default.pop(key); k8s.pop(key)
if default != k8s:
    sys.exit("FAIL: docker/k8s/training/base/config.json differs from model/configs/default.json "
             "beyond the manifest paths")
PY
kubectl kustomize "$root/docker/k8s/server/cpu" | to_json > "$work/server.json"
kubectl kustomize "$root/docker/k8s/server/monitoring" | to_json > "$work/monitoring.json"
"$py" - "$root" "$work/server.json" "$work/monitoring.json" <<'PY' || status=1
import json, re, sys, yaml
root, server, monitoring = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
by_kind = {o["kind"]: o for o in server}
problems = []
pod = by_kind["Deployment"]["spec"]["template"]["spec"]
c = pod["containers"][0]
args = dict(a[2:].split("=", 1) for a in c["args"])
pre_stop = float(re.search(r"sleep (\d+)", " ".join(c["lifecycle"]["preStop"]["exec"]["command"])).group(1))
need = float(args["max-stream-seconds"]) <= float(args["shutdown-grace"])
if not need:
    problems.append("--shutdown-grace does not outlast --max-stream-seconds")
if pod["terminationGracePeriodSeconds"] <= pre_stop + float(args["shutdown-grace"]):
    problems.append("terminationGracePeriodSeconds <= preStop + --shutdown-grace")
grpc_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
if int(args["listen"].rsplit(":", 1)[1]) != grpc_port:
    problems.append("--listen is not the grpc containerPort")
for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
    if c.get(probe, {}).get("grpc", {}).get("port") != grpc_port:
        problems.append(f"{probe} is not a gRPC health probe on port {grpc_port}")
if "kill -USR1 1" not in " ".join(c["lifecycle"]["preStop"]["exec"]["command"]):
    problems.append("preStop does not drain the server (SIGUSR1)")
if not (pod["securityContext"].get("runAsNonRoot") and c["securityContext"].get("readOnlyRootFilesystem")):
    problems.append("not non-root on a read-only root filesystem")
if not (c["resources"].get("requests") and c["resources"].get("limits")):
    problems.append("resources need requests and limits")
# What replicas share (datasets, jobs' files, published models) lives on
# ReadWriteMany claims; a path on an emptyDir would differ per pod.
claims = {o["metadata"]["name"]: o for o in server if o["kind"] == "PersistentVolumeClaim"}
volumes = {v["name"]: v for v in pod["volumes"]}
def shared_mount(path):
    for m in c["volumeMounts"]:
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/"):
            claim = volumes[m["name"]].get("persistentVolumeClaim", {}).get("claimName")
            return claim in claims and "ReadWriteMany" in claims[claim]["spec"]["accessModes"]
    return False
for flag in ("data-root", "jobs-dir", "model-store"):
    if flag not in args or not shared_mount(args[flag]):
        problems.append(f"--{flag} is not on a ReadWriteMany volume shared by the replicas")
if not any(e["name"] == "ASR_REPLICA_NAME" and e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name" for e in c["env"]):
    problems.append("ASR_REPLICA_NAME is not the pod's name")
metric = by_kind["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"]["metric"]["name"]
rules = yaml.safe_load(next(o for o in monitoring if o["metadata"]["name"] == "asr-prometheus-adapter-rules")["data"]["config.yaml"])
if metric not in [r["name"]["as"] for r in rules["rules"]]:
    problems.append(f"the HPA's metric {metric} is not served by the prometheus-adapter rule")
if f'"{metric}"' not in open(f"{root}/server/recognition_metrics.cc").read():
    problems.append(f"the server exports no {metric}")
for p in problems:
    print("FAIL: docker/k8s/server:", p)
sys.exit(1 if problems else 0)
PY
exit $status
