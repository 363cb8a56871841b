#!/usr/bin/env bash
# Renders every kustomization under docker/k8s with kubectl kustomize and
# validates the objects offline against the Kubernetes API schemas
# (scripts/k8s/validate.mjs: kubernetes-models plus a strict field check,
# PyTorchJob against the kubeflow.org/v1 CRD's fields). Checks that the
# validator itself rejects a misspelled field, and that the training config
# in the manifests is model/configs/default.json with the manifests moved.
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
exit $status
