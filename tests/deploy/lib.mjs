// Shared by the deploy checks: where the tools are, the values scenarios the chart is rendered
// with, and how to render the chart and the kustomize overlays into parsed documents.
// helm and kubectl run hermetically: an empty kubeconfig and Helm homes in a temporary folder, so
// neither can reach a cluster or a chart repository.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const chart = join(repo, "deploy/helm/pixq");
export const kustomizeRoot = join(repo, "deploy/k8s");
export const tools = join(here, "node_modules");
export const helmBin = join(tools, ".k8s-tools/helm");
export const kubectlBin = join(tools, ".k8s-tools/kubectl");

const KEDA = "keda.sh/v1alpha1/ScaledObject";
const PROMETHEUS_OPERATOR = [
  "monitoring.coreos.com/v1/ServiceMonitor",
  "monitoring.coreos.com/v1/PrometheusRule",
];

// Each scenario: a values file from the chart's ci/ folder, and the API groups the simulated
// cluster serves (what `engine: auto` and `prometheusOperator: auto` look at). `kinds` counts the
// documents expected, so that a scenario that stops rendering what it is named for fails.
export const scenarios = [
  {
    name: "defaults",
    values: "default-values.yaml",
    apiVersions: [],
    kinds: { Deployment: 2, HorizontalPodAutoscaler: 2, ScaledObject: 0, ServiceMonitor: 0, Secret: 1,
      PersistentVolumeClaim: 1, ConfigMap: 3, NetworkPolicy: 3, PodDisruptionBudget: 2, Pod: 1,
      CronJob: 1 },
  },
  {
    name: "defaults-on-a-cluster-with-keda-and-prometheus-operator",
    values: "default-values.yaml",
    apiVersions: [KEDA, ...PROMETHEUS_OPERATOR],
    kinds: { ScaledObject: 1, HorizontalPodAutoscaler: 1, ServiceMonitor: 2, PrometheusRule: 1 },
  },
  {
    name: "keda-on",
    values: "keda-values.yaml",
    apiVersions: [],
    kinds: { ScaledObject: 1, HorizontalPodAutoscaler: 1, ServiceMonitor: 0 },
  },
  {
    name: "keda-off-hpa",
    values: "hpa-values.yaml",
    apiVersions: [KEDA, ...PROMETHEUS_OPERATOR],
    kinds: { ScaledObject: 0, HorizontalPodAutoscaler: 2, ServiceMonitor: 2 },
  },
  {
    name: "existing-claim-and-secret",
    values: "existing-claim-and-secret-values.yaml",
    apiVersions: [],
    kinds: { PersistentVolumeClaim: 0, Secret: 0, Deployment: 2 },
  },
  {
    name: "ingress-tls",
    values: "ingress-tls-values.yaml",
    apiVersions: [],
    kinds: { Ingress: 1 },
  },
  {
    name: "autoscaling-off",
    values: "autoscaling-off-values.yaml",
    apiVersions: [KEDA],
    kinds: { HorizontalPodAutoscaler: 0, ScaledObject: 0, NetworkPolicy: 0, ServiceAccount: 0,
      ConfigMap: 1, CronJob: 1 },
  },
  {
    name: "retention-off",
    values: "retention-off-values.yaml",
    apiVersions: [],
    kinds: { CronJob: 0, NetworkPolicy: 2, Deployment: 2 },
  },
  {
    name: "production",
    values: "production-values.yaml",
    apiVersions: [],
    kinds: { ServiceMonitor: 2, PrometheusRule: 1, HorizontalPodAutoscaler: 2, CronJob: 1 },
  },
];

export const overlays = ["dev", "prod"];

// The values a scenario renders with: the chart's values.yaml with its ci/ file merged over it
// (maps merged key by key, anything else replaced, as Helm does).
export function scenarioValues(scenario) {
  const merge = (base, over) => {
    if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
    const out = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  };
  const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const read = (file) => YAML.parse(readFileSync(file, "utf8")) ?? {};
  return merge(read(join(chart, "values.yaml")), read(join(chart, "ci", scenario.values)));
}

let homes;
function hermeticEnv() {
  if (!homes) {
    homes = mkdtempSync(join(tmpdir(), "pixq-deploy-"));
    process.on("exit", () => rmSync(homes, { recursive: true, force: true }));
  }
  return {
    PATH: process.env.PATH,
    HOME: homes,
    KUBECONFIG: "/dev/null",
    HELM_CACHE_HOME: join(homes, "cache"),
    HELM_CONFIG_HOME: join(homes, "config"),
    HELM_DATA_HOME: join(homes, "data"),
  };
}

// Runs a tool; returns { ok, stdout, stderr }.
export function run(file, args, options = {}) {
  try {
    const stdout = execFileSync(file, args, {
      encoding: "utf8",
      env: options.env ?? hermeticEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
    return { ok: true, stdout, stderr: "" };
  } catch (e) {
    if (e.status === undefined && e.code) throw e; // the tool is missing, not failing
    return { ok: false, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export function helm(args) {
  return run(helmBin, args);
}

export function helmTemplateArgs(scenario, extra = []) {
  return [
    "template", "pixq", chart, "--namespace", "pixq",
    "-f", join(chart, "ci", scenario.values),
    ...scenario.apiVersions.flatMap((v) => ["--api-versions", v]),
    ...extra,
  ];
}

// Kubernetes reads manifests as YAML 1.1 (yes/no/on/off are booleans), so they are parsed that
// way here too: an unquoted "off" in a string field is then a type error, as it is for the API.
export function parseDocuments(text, source) {
  const docs = [];
  for (const doc of YAML.parseAllDocuments(text, { version: "1.1" })) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0].message}`);
    const value = doc.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

export function renderScenario(scenario) {
  const result = helm(helmTemplateArgs(scenario));
  if (!result.ok) throw new Error(`helm template (${scenario.name}) failed:\n${result.stderr}`);
  return parseDocuments(result.stdout, scenario.name);
}

export function renderOverlay(overlay) {
  const result = run(kubectlBin, ["kustomize", join(kustomizeRoot, "overlays", overlay)]);
  if (!result.ok) throw new Error(`kubectl kustomize ${overlay} failed:\n${result.stderr}`);
  return parseDocuments(result.stdout, `overlay ${overlay}`);
}

// The pods a source runs: [{ owner, pod }] for each Deployment's and CronJob's pod template
// (owner is the Deployment or CronJob), and each bare Pod (the helm test hook).
export function podTemplates(docs) {
  return [
    ...docs.filter((d) => d.kind === "Deployment").map((d) => ({ owner: d, template: d.spec.template })),
    ...docs.filter((d) => d.kind === "CronJob").map((d) => ({ owner: d, template: d.spec.jobTemplate.spec.template })),
    ...docs.filter((d) => d.kind === "Pod").map((d) => ({ owner: d, template: d })),
  ].map(({ owner, template }) => ({ owner, labels: template.metadata?.labels ?? {}, pod: template.spec }));
}

// Every rendered source: the chart under each scenario and each kustomize overlay.
export function renderAll() {
  return [
    ...scenarios.map((s) => ({ name: `helm/${s.name}`, scenario: s, docs: renderScenario(s) })),
    ...overlays.map((o) => ({ name: `kustomize/${o}`, overlay: o, docs: renderOverlay(o) })),
  ];
}

// A tiny test harness: check(condition, message) records failures; finish() reports and exits.
export function harness(title) {
  const failures = [];
  let passed = 0;
  return {
    check(ok, message) {
      if (ok) passed += 1;
      else failures.push(message);
      return ok;
    },
    finish() {
      for (const f of failures) console.error(`FAIL: ${f}`);
      console.log(`${title}: ${passed} passed, ${failures.length} failed`);
      process.exit(failures.length === 0 ? 0 : 1);
    },
  };
}
