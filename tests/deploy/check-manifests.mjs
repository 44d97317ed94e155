// Validates every document the chart renders (each values scenario) and every document each
// kustomize overlay builds against the Kubernetes API types, with unknown fields rejected.
//
// Each document becomes a TypeScript object literal typed as its kind: kubernetes-types for the
// built-in kinds, @kubernetes-models/keda for ScaledObject and @kubernetes-models/prometheus-operator
// for ServiceMonitor and PrometheusRule. TypeScript 5's excess-property check rejects a field the
// type does not have, and a value of the wrong type is a type error. A kind with no type here
// fails too, so nothing passes unchecked.
//
//   node check-manifests.mjs <work-dir>              check; exit 1 on any error
//   node check-manifests.mjs <work-dir> --self-test  also prove that broken documents are caught
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { harness, renderAll, run, tools } from "./lib.mjs";

const [workDir, flag] = process.argv.slice(2);
if (!workDir) {
  console.error("usage: node check-manifests.mjs <work-dir> [--self-test]");
  process.exit(2);
}

// apiVersion/kind -> [module, type]
const TYPES = {
  "v1/ConfigMap": ["kubernetes-types/core/v1", "ConfigMap"],
  "v1/Secret": ["kubernetes-types/core/v1", "Secret"],
  "v1/Service": ["kubernetes-types/core/v1", "Service"],
  "v1/ServiceAccount": ["kubernetes-types/core/v1", "ServiceAccount"],
  "v1/PersistentVolumeClaim": ["kubernetes-types/core/v1", "PersistentVolumeClaim"],
  "v1/Pod": ["kubernetes-types/core/v1", "Pod"],
  "apps/v1/Deployment": ["kubernetes-types/apps/v1", "Deployment"],
  "batch/v1/CronJob": ["kubernetes-types/batch/v1", "CronJob"],
  "autoscaling/v2/HorizontalPodAutoscaler": ["kubernetes-types/autoscaling/v2", "HorizontalPodAutoscaler"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-types/policy/v1", "PodDisruptionBudget"],
  "networking.k8s.io/v1/Ingress": ["kubernetes-types/networking/v1", "Ingress"],
  "networking.k8s.io/v1/NetworkPolicy": ["kubernetes-types/networking/v1", "NetworkPolicy"],
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject", "IScaledObject"],
  "monitoring.coreos.com/v1/ServiceMonitor": [
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "IServiceMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": [
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule", "IPrometheusRule"],
};

const slug = (s) => String(s).replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");

// Writes one .ts file per document into dir and a tsconfig.json listing them; returns the
// documents that have no known type (these are failures in their own right).
function writeProject(dir, entries) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = [];
  const untyped = [];
  for (const { file, doc } of entries) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const type = TYPES[key];
    if (!type) {
      untyped.push(`${file}: no type for ${key}`);
      continue;
    }
    const path = join(dir, `${file}.ts`);
    writeFileSync(
      path,
      `import type { ${type[1]} } from "${type[0]}";\n` +
        `export const doc: ${type[1]} = ${JSON.stringify(doc, null, 2)};\n`,
    );
    files.push(path);
  }
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        module: "ES2022",
        moduleResolution: "node",
        skipLibCheck: true,
        types: [],
        baseUrl: ".",
        paths: {
          "kubernetes-types/*": [join(tools, "kubernetes-types/*")],
          "@kubernetes-models/*": [join(tools, "@kubernetes-models/*")],
        },
      },
      files,
    }),
  );
  return untyped;
}

function typeCheck(dir) {
  const tsc = join(tools, "typescript/bin/tsc");
  const result = run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { env: process.env });
  return { ok: result.ok, output: `${result.stdout}${result.stderr}` };
}

const t = harness("manifests match the Kubernetes API types");
const sources = renderAll();
const entries = [];
for (const { name, docs } of sources) {
  docs.forEach((doc, n) => {
    entries.push({
      file: `${slug(name)}--${String(n).padStart(2, "0")}-${slug(doc.kind)}-${slug(doc.metadata?.name)}`,
      doc,
    });
  });
  console.log(`${name}: ${docs.length} documents`);
}
const untyped = writeProject(join(workDir, "manifests"), entries);
for (const u of untyped) t.check(false, u);
const checked = typeCheck(join(workDir, "manifests"));
t.check(checked.ok, `type errors:\n${checked.output}`);
console.log(`${entries.length - untyped.length} documents type-checked`);

if (flag === "--self-test") {
  // Each broken document must be rejected on its own line of tsc's output.
  const byKind = (kind) => entries.find((e) => e.doc.kind === kind).doc;
  const deployment = structuredClone(byKind("Deployment"));
  const container = deployment.spec.template.spec.containers[0];
  container.imagePulPolicy = container.imagePullPolicy; // misspelt field
  delete container.imagePullPolicy;
  const wrongType = structuredClone(byKind("Deployment"));
  wrongType.spec.template.spec.terminationGracePeriodSeconds = "45"; // string for an integer
  const probe = structuredClone(byKind("Deployment"));
  probe.spec.template.spec.containers[0].livenessProbe.httpGet.paht = "/healthz"; // deep typo
  const scaled = structuredClone(entries.find((e) => e.doc.kind === "ScaledObject").doc);
  scaled.spec.maxReplicaCount = "12"; // string for an integer, in a CRD
  const monitor = structuredClone(entries.find((e) => e.doc.kind === "ServiceMonitor").doc);
  monitor.spec.endpoints[0].intervall = "30s"; // misspelt field, in a CRD
  const cronJob = structuredClone(byKind("CronJob"));
  cronJob.spec.jobTemplate.spec.template.spec.containers[0].arg = ["sweep"]; // misspelt, deep in a CronJob
  const cronJobType = structuredClone(byKind("CronJob"));
  cronJobType.spec.concurrencyPolicy = false; // boolean for a string
  const broken = { misspelt: deployment, wrongType, probe, cronJob, cronJobType, scaled, monitor };
  const dir = join(workDir, "self-test");
  const brokenEntries = Object.entries(broken).map(([file, doc]) => ({ file, doc }));
  const noType = writeProject(dir, [
    ...brokenEntries,
    { file: "unknown-kind", doc: { apiVersion: "example.com/v1", kind: "Gadget" } },
  ]);
  t.check(noType.length === 1, "self-test: a document of an unknown kind was not refused");
  const result = typeCheck(dir);
  for (const file of Object.keys(broken)) {
    const line = result.output.split("\n").find((l) => l.includes(`${file}.ts(`));
    if (t.check(line !== undefined, `self-test: the ${file} document was accepted`)) {
      console.log(`self-test: ${file} rejected: ${line.replace(/^.*self-test\//, "")}`);
    }
  }
}
t.finish();
