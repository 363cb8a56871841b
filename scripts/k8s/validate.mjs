// Validates Kubernetes objects offline: node validate.mjs OBJECTS.json
// (a JSON array, e.g. `kubectl kustomize DIR` converted). Each object is
// checked against the API schema of its kind by kubernetes-models (types,
// required fields, enums), and strictly: every field must be one the API
// defines, which kubernetes-models alone does not check (a misspelled
// field passes it), so this walks the models' TypeScript declarations.
// Kubeflow's PyTorchJob (no model package exists) gets its fields checked
// against the kubeflow.org/v1 CRD's and its pod template as a
// PodTemplateSpec. Prints one line per problem; exit 1 if there was any.
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const modelsRoot = dirname(require.resolve("kubernetes-models/package.json"));
const nodeModules = dirname(modelsRoot);
const problems = [];

// The model module for apiVersion/kind: "v1" -> kubernetes-models/v1/Kind,
// "batch/v1" -> kubernetes-models/batch/v1/Kind.
function modelPath(apiVersion, kind) {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

// ---- strict field check over the declarations ----------------------------

const interfaces = new Map(); // .d.ts path -> {fields: Map(name -> type), imports: Map(alias -> path)}

function parseDeclarations(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
    let target = m[2].startsWith(".") ? join(dirname(file), m[2]) : join(nodeModules, m[2]);
    target = target.replace(/\.js$/, "") + ".d.ts";
    imports.set(m[1], target);
  }
  const fields = new Map();
  const start = text.search(/export interface I\w+(?: extends [\w, ]+)? \{/);
  if (start >= 0) {
    let depth = 0, entry = "";
    for (const ch of text.slice(text.indexOf("{", start) + 1)) {
      if (ch === "{" || ch === "<") depth++;
      if (ch === "}" || ch === ">") {
        if (depth === 0) break;
        depth--;
      }
      if (ch === ";" && depth === 0) {
        const m = entry.trim().match(/^"([^"]+)"\??:\s*([\s\S]+)$/);
        if (m) fields.set(m[1], m[2].trim());
        entry = "";
      } else {
        entry += ch;
      }
    }
  }
  const parsed = { fields, imports, isObject: start >= 0 };
  interfaces.set(file, parsed);
  return parsed;
}

// Checks that `value`'s keys are declared by the interface in `file`, and recurses.
function checkFields(value, file, path) {
  const decl = parseDeclarations(file);
  if (!decl.isObject || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const type = decl.fields.get(key);
    if (type === undefined) {
      problems.push(`${path}.${key}: not a field of ${file.slice(nodeModules.length + 1).replace(/\.d\.ts$/, "")}`);
      continue;
    }
    checkType(child, type, decl, `${path}.${key}`);
  }
}

function checkType(value, type, decl, path) {
  const array = type.match(/^Array<(\w+)>$/);
  if (array && Array.isArray(value)) {
    value.forEach((v, i) => checkType(v, array[1], decl, `${path}[${i}]`));
    return;
  }
  const map = type.match(/^\{\s*\[key: string\]:\s*(\w+);?\s*\}$/);
  if (map && value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) checkType(v, map[1], decl, `${path}.${k}`);
    return;
  }
  if (decl.imports.has(type) && existsSync(decl.imports.get(type))) checkFields(value, decl.imports.get(type), path);
}

// ---- kinds ----------------------------------------------------------------

async function validateModel(obj, path, apiVersion = obj.apiVersion, kind = obj.kind) {
  let mod;
  try {
    mod = await import(modelPath(apiVersion, kind));
  } catch {
    problems.push(`${path}: no Kubernetes API schema for ${apiVersion} ${kind}`);
    return;
  }
  try {
    new mod[kind](obj).validate();
  } catch (e) {
    problems.push(`${path}: ${e.message.replace(/\s+/g, " ")}`);
  }
  checkFields(obj, join(modelsRoot, apiVersion, `${kind}.d.ts`), path);
}

// kubeflow.org/v1 PyTorchJob, from the training operator's CRD.
const pyTorchJobFields = {
  spec: ["elasticPolicy", "pytorchReplicaSpecs", "runPolicy", "nprocPerNode"],
  elasticPolicy: ["minReplicas", "maxReplicas", "rdzvBackend", "rdzvPort", "rdzvHost", "rdzvId", "rdzvConf",
                  "standalone", "nProcPerNode", "maxRestarts", "metrics"],
  runPolicy: ["cleanPodPolicy", "ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit",
              "schedulingPolicy", "suspend", "managedBy"],
  replicaSpec: ["replicas", "restartPolicy", "template"],
  replicaTypes: ["Master", "Worker"],
  restartPolicies: ["Always", "OnFailure", "Never", "ExitCode"],
};

function only(value, allowed, path) {
  for (const key of Object.keys(value ?? {})) {
    if (!allowed.includes(key)) problems.push(`${path}.${key}: not a field of kubeflow.org/v1 PyTorchJob`);
  }
}

async function validatePyTorchJob(obj, path) {
  only(obj, ["apiVersion", "kind", "metadata", "spec"], path);
  checkFields(obj.metadata, join(nodeModules, "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta.d.ts"),
              `${path}.metadata`);
  const spec = obj.spec ?? {};
  only(spec, pyTorchJobFields.spec, `${path}.spec`);
  only(spec.elasticPolicy, pyTorchJobFields.elasticPolicy, `${path}.spec.elasticPolicy`);
  only(spec.runPolicy, pyTorchJobFields.runPolicy, `${path}.spec.runPolicy`);
  const replicas = spec.pytorchReplicaSpecs ?? {};
  if (Object.keys(replicas).length === 0) problems.push(`${path}.spec.pytorchReplicaSpecs: no replicas`);
  only(replicas, pyTorchJobFields.replicaTypes, `${path}.spec.pytorchReplicaSpecs`);
  for (const [type, r] of Object.entries(replicas)) {
    const p = `${path}.spec.pytorchReplicaSpecs.${type}`;
    only(r, pyTorchJobFields.replicaSpec, p);
    if (r.restartPolicy && !pyTorchJobFields.restartPolicies.includes(r.restartPolicy)) {
      problems.push(`${p}.restartPolicy: '${r.restartPolicy}' is not one of ${pyTorchJobFields.restartPolicies}`);
    }
    if (!(r.template?.spec?.containers ?? []).some((c) => c.name === "pytorch")) {
      problems.push(`${p}.template: the operator needs a container named 'pytorch'`);
    }
    await validateModel(r.template ?? {}, `${p}.template`, "v1", "PodTemplateSpec");
  }
}

// Every ConfigMap and PersistentVolumeClaim a pod mounts is among the objects.
function checkReferences(objects) {
  const names = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  const walk = (value, path) => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}[${i}]`));
    if (!value || typeof value !== "object") return;
    if (value.configMap?.name && !names.has(`ConfigMap/${value.configMap.name}`)) {
      problems.push(`${path}: ConfigMap '${value.configMap.name}' is not defined`);
    }
    const claim = value.persistentVolumeClaim?.claimName;
    if (claim && !names.has(`PersistentVolumeClaim/${claim}`)) {
      problems.push(`${path}: PersistentVolumeClaim '${claim}' is not defined`);
    }
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  };
  objects.forEach((o) => walk(o, `${o.kind}/${o.metadata?.name}`));
}

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const obj of objects) {
  const path = `${obj.kind}/${obj.metadata?.name}`;
  if (obj.apiVersion === "kubeflow.org/v1" && obj.kind === "PyTorchJob") {
    await validatePyTorchJob(obj, path);
  } else {
    await validateModel(obj, path);
  }
}
checkReferences(objects);
for (const p of problems) console.log(p);
console.log(`validate: ${objects.length} objects, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
