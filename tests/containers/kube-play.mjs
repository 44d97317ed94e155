// Splits the chart, as `helm template` rendered it, into what `podman kube play` runs and what
// scripts/containers.sh does by hand where podman 4.3 differs from a cluster. Nothing of a pixq
// container is changed: its image, args, environment, probes, resources, securityContext and
// volumes stay as rendered.
//
//   node kube-play.mjs <rendered.yaml> <out-dir> <tools-image>
//
// Writes to <out-dir>:
//   play.yaml          the ConfigMaps, the volume claim and the two Deployments, as rendered
//   secret-name, secret.json
//                      the Secret, for `podman secret create`: podman 4.3's kube play stores a
//                      Secret document as YAML and then cannot read it for secretKeyRef (it wants
//                      the JSON of its data), so the script creates it in that form
//   worker-pod.yaml    the worker Deployment's pod template as a Pod named WORKER_POD_NAME: one
//                      more replica, stamped as a ReplicaSet would (`kubectl scale`)
// Each pod's emptyDir volumes are renamed <pod or Deployment>-<name>: podman 4.3 would otherwise
// share one volume "tmp" between all pods.
//   test-pod.yaml      the `helm test` Pod, its image the tools image (curlimages/curl cannot be
//                      pulled here) and the API Service's name resolved by a hostAliases entry
//                      HOST_ALIAS_IP (no Service DNS without a cluster)
//   sweep-pod.yaml     the retention CronJob's pod template as a Pod: one run of the sweeper
//   probes.json        per Deployment: its container's probes with their ports resolved
//   summary            the kinds rendered and what became of each
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// The yaml package tests/deploy installs from its lock file (scripts/setup.sh).
const require = createRequire(new URL("../deploy/package.json", import.meta.url));
const YAML = require("yaml");

const [rendered, out, toolsImage] = process.argv.slice(2);
if (!toolsImage) {
  console.error("usage: kube-play.mjs <rendered.yaml> <out-dir> <tools-image>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const docs = YAML.parseAllDocuments(readFileSync(rendered, "utf8"))
  .map((d) => d.toJS())
  .filter((d) => d && d.kind);
const dump = (objs) => objs.map((o) => YAML.stringify(o)).join("---\n");
const summary = [];
const one = (kind, pred = () => true) => {
  const found = docs.filter((d) => d.kind === kind && pred(d));
  if (found.length !== 1) throw new Error(`expected one ${kind}, the chart rendered ${found.length}`);
  return found[0];
};

const deployments = docs.filter((d) => d.kind === "Deployment");
const component = (d) => d.metadata.labels["app.kubernetes.io/component"];
const api = one("Deployment", (d) => component(d) === "api");
const worker = one("Deployment", (d) => component(d) === "worker");
for (const d of deployments) {
  if (d.spec.replicas === undefined) {
    throw new Error(`${d.metadata.name} has no replicas (an autoscaler owns it): render with autoscaling off`);
  }
}
// podman 4.3 makes an emptyDir a named volume of the volume's name, shared by every pod that
// names one alike (all of pixq's are "tmp"); a cluster gives each pod its own. So each pod
// spec's emptyDirs get a name of their own (volume names are local to the pod spec).
const ownEmptyDirs = (spec, owner) => {
  const renamed = {};
  for (const v of spec.volumes ?? []) {
    if (v.emptyDir) renamed[v.name] = v.name = `${owner}-${v.name}`;
  }
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const m of c.volumeMounts ?? []) if (renamed[m.name]) m.name = renamed[m.name];
  }
};
for (const d of docs.filter((d) => d.kind === "Deployment")) ownEmptyDirs(d.spec.template.spec, d.metadata.name);

// podman 4.3 publishes every containerPort on the host (0.0.0.0:<port>), which a cluster never
// does: two workers would collide on 9090, and pixq would listen beyond this machine. So the
// port list goes (it is informational in Kubernetes) and the probes' named ports become the
// numbers they name. The pods are reached at their own addresses on the run's network.
const unpublish = (spec) => {
  for (const c of spec.containers) {
    const byName = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    for (const k of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const get = c[k]?.httpGet;
      if (get && typeof get.port === "string") get.port = byName[get.port];
    }
    delete c.ports;
  }
};
// Each Deployment's probes, their named ports resolved to numbers, for the checks.
const probes = {};
for (const d of deployments) {
  const c = d.spec.template.spec.containers[0];
  const port = (p) => (typeof p === "number" ? p : c.ports.find((x) => x.name === p).containerPort);
  probes[component(d)] = {
    deployment: d.metadata.name,
    container: c.name,
    args: c.args ?? [],
    probes: ["startupProbe", "livenessProbe", "readinessProbe"]
      .filter((k) => c[k])
      .map((k) => ({ kind: k, path: c[k].httpGet.path, port: port(c[k].httpGet.port) })),
    securityContext: { ...d.spec.template.spec.securityContext, ...c.securityContext },
  };
}
writeFileSync(join(out, "probes.json"), JSON.stringify(probes, null, 2));

for (const d of deployments) unpublish(d.spec.template.spec);

const configMaps = docs.filter((d) => d.kind === "ConfigMap");
const claims = docs.filter((d) => d.kind === "PersistentVolumeClaim");
writeFileSync(join(out, "play.yaml"), dump([...configMaps, ...claims, ...deployments]));
summary.push(`kube play: ${configMaps.length} ConfigMap, ${claims.length} PersistentVolumeClaim, ${deployments.length} Deployment (containerPorts unpublished, emptyDirs per pod)`);

const secret = one("Secret");
writeFileSync(join(out, "secret-name"), secret.metadata.name);
const data = { ...(secret.data ?? {}) };
for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = Buffer.from(v).toString("base64");
writeFileSync(join(out, "secret.json"), JSON.stringify(data));
summary.push(`podman secret: Secret ${secret.metadata.name} (${Object.keys(data).sort().join(", ")})`);

// A pod template stamped as a Pod. Without its annotations: they are the checksums that roll a
// Deployment, and podman 4.3 refuses values over 63 characters on a Pod (a label's limit).
const podFrom = (name, template, restartPolicy) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: template.metadata?.labels ?? {} },
  spec: { ...template.spec, ...(restartPolicy ? { restartPolicy } : {}) },
});
// Pods played on their own carry the ConfigMaps they mount (kube play reads them from the file).
const workerPod = podFrom("WORKER_POD_NAME", structuredClone(worker.spec.template));
for (const v of workerPod.spec.volumes) if (v.name.startsWith(`${worker.metadata.name}-`)) v.name = v.name.replace(worker.metadata.name, "WORKER_POD_NAME");
for (const m of workerPod.spec.containers[0].volumeMounts) if (m.name.startsWith(`${worker.metadata.name}-`)) m.name = m.name.replace(worker.metadata.name, "WORKER_POD_NAME");
writeFileSync(join(out, "worker-pod.yaml"), dump([...configMaps, workerPod]));

const test = one("Pod", (d) => d.metadata.annotations?.["helm.sh/hook"] === "test");
const apiHost = test.spec.containers[0].env.find((e) => e.name === "PIXQ_API")?.value?.split(":")[0];
if (!apiHost) throw new Error("the test Pod has no PIXQ_API");
ownEmptyDirs(test.spec, test.metadata.name);
test.spec.hostAliases = [{ ip: "HOST_ALIAS_IP", hostnames: [apiHost] }];
const testImage = test.spec.containers[0].image;
test.spec.containers[0].image = toolsImage;
delete test.metadata.annotations;
writeFileSync(join(out, "test-pod.yaml"), dump([test]));
writeFileSync(join(out, "test-api-host"), apiHost);
summary.push(`helm test Pod ${test.metadata.name}: ${testImage} replaced by ${toolsImage}, ${apiHost} by hostAliases`);

const cronJobs = docs.filter((d) => d.kind === "CronJob");
if (cronJobs.length === 1) {
  const pod = podFrom(`${cronJobs[0].metadata.name}-run`, cronJobs[0].spec.jobTemplate.spec.template, "Never");
  ownEmptyDirs(pod.spec, pod.metadata.name);
  writeFileSync(join(out, "sweep-pod.yaml"), dump([...configMaps, pod]));
  summary.push(`CronJob ${cronJobs[0].metadata.name}: one run, as a Pod`);
}

const handled = new Set(["ConfigMap", "PersistentVolumeClaim", "Deployment", "Secret", "Pod", "CronJob"]);
const left = [...new Set(docs.map((d) => d.kind).filter((k) => !handled.has(k)))].sort();
summary.push(`not run (a cluster's, validated offline by tests/deploy): ${left.join(", ") || "none"}`);
writeFileSync(join(out, "summary"), summary.join("\n") + "\n");
