// What DESIGN.md's Kubernetes section promises, checked on every chart scenario and kustomize
// overlay: the expected kinds per scenario; every pod non-root with a read-only root file system,
// no capabilities, seccomp RuntimeDefault, /tmp on an emptyDir, limits, no service links; probes
// on /healthz and /readyz on the ports the configuration sets; the worker's grace period above
// worker.shutdown_grace_s; the autoscaler's ceiling at the jobs topic's partition count and its
// trigger on the workers' own consumer group; the ingress body size above http.max_body_bytes;
// every reference (ConfigMap, Secret, claim, Service and monitor selectors, port names) resolved;
// the alert rules and dashboards exactly those of observability/; the retention CronJob rendered
// exactly when retention.enabled, running `pixq-worker sweep` as the worker runs (image, file,
// Secret, volume at storage.root, read-write) with no ports or probes, one run at a time, its
// deadlines and history set; every pod (the sweeper's too) under a NetworkPolicy that lets it
// reach DNS and the Kafka ports of kafka.bootstrap_servers, and the sweeper behind no Service or
// PodDisruptionBudget.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";
import {
  chart, harness, helm, helmTemplateArgs, parseDocuments, podTemplates, renderAll, repo, scenarioValues,
  scenarios,
} from "./lib.mjs";

const t = harness("the rendered manifests keep the deployment contract");
const alerts = YAML.parse(readFileSync(join(repo, "observability/alerts/pixq-alerts.yaml"), "utf8"));
const dashboards = Object.fromEntries(
  readdirSync(join(repo, "observability/dashboards"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f, JSON.parse(readFileSync(join(repo, "observability/dashboards", f), "utf8"))]),
);
const chartDefaults = YAML.parse(readFileSync(join(chart, "values.yaml"), "utf8"));

const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

function checkSource({ name, scenario, docs }) {
  const say = (what) => `${name}: ${what}`;
  const of = (kind) => docs.filter((d) => d.kind === kind);
  const named = (kind, n) => docs.find((d) => d.kind === kind && d.metadata.name === n);

  for (const [kind, count] of Object.entries(scenario?.kinds ?? {})) {
    t.check(of(kind).length === count, say(`${of(kind).length} ${kind}, expected ${count}`));
  }

  const deployments = of("Deployment");
  const byComponent = (c) => deployments.find((d) => d.metadata.labels["app.kubernetes.io/component"] === c);
  const api = byComponent("api");
  const worker = byComponent("worker");
  if (!t.check(api && worker, say("no api or worker Deployment"))) return;

  // The configuration file both read.
  const configName = api.spec.template.spec.volumes.find((v) => v.name === "config").configMap.name;
  const configMap = named("ConfigMap", configName);
  if (!t.check(configMap, say(`ConfigMap ${configName} is not rendered`))) return;
  const config = YAML.parse(configMap.data["pixq.yaml"]);
  const prefix = config.kafka.topic_prefix ?? "pixq.";

  // The API's table store may not outgrow its volume: state.max_bytes (the environment's, else the
  // file's, else the binary's 64 GiB) within the state emptyDir's sizeLimit, so a full store says
  // StateStoreFull rather than the pod being evicted.
  const stateVolume = api.spec.template.spec.volumes.find((v) => v.name === "state");
  const sizeLimit = stateVolume?.emptyDir?.sizeLimit;
  if (sizeLimit !== undefined) {
    const units = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
    const [, n, unit] = /^(\d+)([A-Za-z]*)$/.exec(String(sizeLimit)) ?? [];
    const apiEnv = api.spec.template.spec.containers.find((c) => c.name === "api")?.env ?? [];
    const fromEnv = apiEnv.find((e) => e.name === "PIXQ_STATE_MAX_BYTES")?.value;
    const maxBytes = Number(fromEnv ?? config.state?.max_bytes ?? 2 ** 36);
    if (t.check(n !== undefined && unit in units, say(`state volume sizeLimit ${sizeLimit} unreadable`))) {
      t.check(maxBytes <= Number(n) * units[unit],
        say(`state.max_bytes ${maxBytes} is more than the state volume's sizeLimit ${sizeLimit}`));
    }
  }
  const group = config.kafka.consumer_group ?? "pixq-workers";

  // Every pod (the Deployments', the CronJob's and the test's): the security context and volumes
  // DESIGN.md asks for.
  const pods = podTemplates(docs).map(({ owner, pod }) => [`${owner.kind} ${owner.metadata.name}`, pod]);
  for (const [podName, pod] of pods) {
    const where = (what) => say(`${podName}: ${what}`);
    t.check(pod.securityContext?.runAsNonRoot === true, where("runAsNonRoot is not true"));
    t.check(pod.securityContext?.runAsUser > 0, where("runAsUser is not a non-root uid"));
    t.check(pod.securityContext?.seccompProfile?.type === "RuntimeDefault", where("seccomp is not RuntimeDefault"));
    t.check(pod.enableServiceLinks === false, where("service links on (PIXQ_* variables the binaries refuse)"));
    t.check(pod.automountServiceAccountToken === false, where("mounts a service account token"));
    const tmp = pod.volumes?.find((v) => v.name === "tmp");
    t.check(tmp?.emptyDir !== undefined, where("no emptyDir volume for /tmp"));
    for (const c of pod.containers) {
      const sc = c.securityContext ?? {};
      t.check(sc.readOnlyRootFilesystem === true, where(`${c.name}: root file system not read-only`));
      t.check(sc.allowPrivilegeEscalation === false, where(`${c.name}: privilege escalation allowed`));
      t.check(sc.capabilities?.drop?.includes("ALL"), where(`${c.name}: capabilities not dropped`));
      t.check(c.resources?.limits?.cpu && c.resources?.limits?.memory && c.resources?.requests?.memory,
        where(`${c.name}: no requests and limits`));
      t.check(c.volumeMounts?.some((m) => m.name === "tmp" && m.mountPath === "/tmp"),
        where(`${c.name}: /tmp is not the emptyDir`));
    }
  }

  // Probes on the ports the configuration sets.
  for (const [dep, portName, port] of [[api, "http", config.http?.port ?? 8080],
    [worker, "metrics", config.worker?.port ?? 9090]]) {
    const c = dep.spec.template.spec.containers[0];
    t.check(c.ports.some((p) => p.name === portName && p.containerPort === port),
      say(`${dep.metadata.name}: port ${portName} is not ${port}`));
    t.check(c.livenessProbe?.httpGet?.path === "/healthz" && c.livenessProbe.httpGet.port === portName,
      say(`${dep.metadata.name}: liveness is not /healthz on ${portName}`));
    t.check(c.readinessProbe?.httpGet?.path === "/readyz" && c.readinessProbe.httpGet.port === portName,
      say(`${dep.metadata.name}: readiness is not /readyz on ${portName}`));
    t.check(c.args.join(" ") === "--config /etc/pixq/pixq.yaml", say(`${dep.metadata.name}: args`));
  }
  const grace = config.worker?.shutdown_grace_s ?? 30;
  t.check(worker.spec.template.spec.terminationGracePeriodSeconds > grace,
    say(`worker terminationGracePeriodSeconds is not above worker.shutdown_grace_s (${grace})`));

  // Autoscaling: at most one autoscaler per Deployment, its ceiling the partition count, and no
  // replica count in the Deployment for it to fight with.
  const partitions = scenario
    ? (YAML.parse(readFileSync(join(chart, "ci", scenario.values), "utf8")).kafka?.jobsPartitions ??
      chartDefaults.kafka.jobsPartitions)
    : undefined;
  const scaled = of("ScaledObject");
  for (const so of scaled) {
    t.check(so.spec.scaleTargetRef.name === worker.metadata.name, say("ScaledObject does not target the worker"));
    if (partitions) t.check(so.spec.maxReplicaCount === partitions, say(`maxReplicaCount is not ${partitions}`));
    const trigger = so.spec.triggers[0];
    t.check(trigger.type === "kafka" && trigger.metadata.consumerGroup === group &&
      trigger.metadata.topic === `${prefix}jobs` &&
      trigger.metadata.bootstrapServers === config.kafka.bootstrap_servers,
    say("the KEDA trigger is not the lag of the workers' group on the jobs topic"));
  }
  const hpas = of("HorizontalPodAutoscaler");
  for (const dep of [api, worker]) {
    const scalers = [...hpas.filter((h) => h.spec.scaleTargetRef.name === dep.metadata.name),
      ...scaled.filter((s) => s.spec.scaleTargetRef.name === dep.metadata.name)];
    t.check(scalers.length <= 1, say(`${dep.metadata.name} has ${scalers.length} autoscalers`));
    t.check(scalers.length === 0 || dep.spec.replicas === undefined,
      say(`${dep.metadata.name} sets replicas although an autoscaler owns them`));
    t.check(scalers.length === 1 || dep.spec.replicas >= 1, say(`${dep.metadata.name}: no replicas, no autoscaler`));
  }
  const workerHpa = hpas.find((h) => h.spec.scaleTargetRef.name === worker.metadata.name);
  if (workerHpa && partitions) t.check(workerHpa.spec.maxReplicas === partitions, say(`worker HPA max is not ${partitions}`));

  // References resolve.
  const claimName = worker.spec.template.spec.volumes.find((v) => v.name === "data").persistentVolumeClaim.claimName;
  const pvc = named("PersistentVolumeClaim", claimName);
  const existingClaim = scenario && YAML.parse(readFileSync(join(chart, "ci", scenario.values), "utf8")).persistence?.existingClaim;
  t.check(pvc ? pvc.spec.accessModes.includes("ReadWriteMany") : claimName === existingClaim,
    say(`claim ${claimName}: not a rendered ReadWriteMany PVC nor the existing claim`));
  for (const dep of [api, worker]) {
    for (const m of dep.spec.template.spec.containers[0].volumeMounts.filter((v) => v.name === "data")) {
      t.check(m.mountPath === config.storage.root, say(`${dep.metadata.name}: volume not at storage.root`));
    }
  }
  for (const svc of of("Service")) {
    const target = deployments.find((d) => matches(svc.spec.selector, d.spec.template.metadata.labels));
    t.check(target, say(`Service ${svc.metadata.name} selects no Deployment`));
    for (const p of svc.spec.ports) {
      t.check(target?.spec.template.spec.containers[0].ports.some((cp) => cp.name === p.targetPort),
        say(`Service ${svc.metadata.name}: no container port ${p.targetPort}`));
    }
  }
  for (const pdb of of("PodDisruptionBudget")) {
    t.check(deployments.some((d) => matches(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)),
      say(`PodDisruptionBudget ${pdb.metadata.name} selects no pods`));
  }
  // Network policies: each selects pods, opens only their ports, and lets them reach DNS and
  // Kafka; once there are any, every long-running or scheduled pod is under one.
  const workloads = podTemplates(docs).filter((p) => p.owner.kind !== "Pod");
  const kafkaPorts = [...new Set(config.kafka.bootstrap_servers.split(",").map((hp) => Number(hp.split(":").pop())))];
  const allows = (rules, port, protocol = "TCP") => rules.some((r) =>
    !r.ports || r.ports.some((p) => p.port === port && (p.protocol ?? "TCP") === protocol));
  for (const np of of("NetworkPolicy")) {
    const target = workloads.find((w) => matches(np.spec.podSelector.matchLabels, w.labels));
    t.check(target, say(`NetworkPolicy ${np.metadata.name} selects no pods`));
    for (const rule of np.spec.ingress ?? []) {
      for (const p of rule.ports ?? []) {
        t.check(target?.pod.containers[0].ports?.some((cp) => cp.name === p.port),
          say(`NetworkPolicy ${np.metadata.name}: ingress port ${p.port} is no container port`));
      }
    }
  }
  if (of("NetworkPolicy").length > 0) {
    for (const { owner, labels } of workloads) {
      const policies = of("NetworkPolicy").filter((np) => matches(np.spec.podSelector.matchLabels, labels));
      const where = (what) => say(`${owner.kind} ${owner.metadata.name}: ${what}`);
      if (!t.check(policies.length > 0, where("no NetworkPolicy selects its pods"))) continue;
      const egress = policies.flatMap((np) => np.spec.egress ?? []);
      t.check(allows(egress, 53, "UDP") && allows(egress, 53, "TCP"), where("no egress to DNS"));
      for (const port of kafkaPorts) {
        t.check(allows(egress, port), where(`no egress to Kafka's port ${port} (kafka.bootstrap_servers)`));
      }
    }
  }

  // The retention CronJob: there exactly when enabled, and `pixq-worker sweep` run as the
  // worker is (same image, configuration file, Secret and volume).
  const values = scenario ? scenarioValues(scenario) : undefined;
  const cronJobs = of("CronJob");
  const retentionOn = values ? values.retention.enabled : true;
  t.check(cronJobs.length === (retentionOn ? 1 : 0),
    say(`${cronJobs.length} CronJob, expected ${retentionOn ? 1 : 0} (retention.enabled ${retentionOn})`));
  for (const cj of cronJobs) {
    const where = (what) => say(`CronJob ${cj.metadata.name}: ${what}`);
    const spec = cj.spec;
    const job = spec.jobTemplate.spec;
    const pod = job.template.spec;
    const workerPod = worker.spec.template.spec;
    const [sweep, ...others] = pod.containers;
    const workerContainer = workerPod.containers[0];
    t.check(cj.metadata.name.length <= 52, where("name longer than 52 characters (its Jobs add 11)"));
    t.check(job.template.metadata.labels["app.kubernetes.io/component"] === "retention",
      where("pods not labelled component retention"));
    if (values) {
      t.check(spec.schedule === values.retention.schedule, where(`schedule is not ${values.retention.schedule}`));
      t.check((spec.timeZone ?? "") === values.retention.timeZone, where("timeZone is not retention.timeZone"));
    }
    t.check(spec.concurrencyPolicy === "Forbid", where("concurrencyPolicy is not Forbid"));
    t.check(Number.isInteger(spec.startingDeadlineSeconds) && spec.startingDeadlineSeconds > 0,
      where("no startingDeadlineSeconds"));
    t.check(Number.isInteger(spec.successfulJobsHistoryLimit) && Number.isInteger(spec.failedJobsHistoryLimit),
      where("no successful/failed Jobs history limits"));
    t.check(Number.isInteger(job.backoffLimit), where("no backoffLimit"));
    t.check(job.activeDeadlineSeconds > 120,
      where("activeDeadlineSeconds not above the 120 s the sweeper may take to read the job-status topic"));
    t.check(["Never", "OnFailure"].includes(pod.restartPolicy), where(`restartPolicy ${pod.restartPolicy}`));
    t.check(others.length === 0 && !pod.initContainers, where("more than the sweep container"));
    t.check(sweep.args?.[0] === "sweep" && sweep.args.join(" ") === "sweep --config /etc/pixq/pixq.yaml",
      where(`args are not sweep --config /etc/pixq/pixq.yaml: ${sweep.args}`));
    t.check(sweep.command === undefined, where("overrides the image's entrypoint"));
    t.check(sweep.image === workerContainer.image && sweep.imagePullPolicy === workerContainer.imagePullPolicy,
      where(`image ${sweep.image} is not the worker's ${workerContainer.image}`));
    t.check(!sweep.ports && !sweep.livenessProbe && !sweep.readinessProbe && !sweep.startupProbe,
      where("has ports or probes"));
    t.check(pod.serviceAccountName === workerPod.serviceAccountName, where("not the worker's service account"));
    t.check(isDeepStrictEqual(pod.imagePullSecrets, workerPod.imagePullSecrets), where("not the worker's pull secrets"));
    const volume = (p, n) => p.volumes.find((v) => v.name === n);
    t.check(isDeepStrictEqual(volume(pod, "config"), volume(workerPod, "config")), where("not the worker's ConfigMap"));
    t.check(volume(pod, "data")?.persistentVolumeClaim?.claimName === claimName, where(`not on claim ${claimName}`));
    t.check(!volume(pod, "data").persistentVolumeClaim.readOnly, where("the claim is mounted read-only"));
    const data = sweep.volumeMounts.find((m) => m.name === "data");
    t.check(data?.mountPath === config.storage.root && !data.readOnly,
      where(`volume not read-write at storage.root ${config.storage.root}`));
    const secretRefs = (c) => (c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef)
      .map((e) => JSON.stringify([e.name, e.valueFrom.secretKeyRef]));
    for (const ref of secretRefs(workerContainer)) {
      t.check(secretRefs(sweep).includes(ref), where(`lacks the worker's Secret variable ${ref}`));
    }
    for (const other of [...of("Service"), ...of("PodDisruptionBudget")]) {
      const selector = other.spec.selector?.matchLabels ?? other.spec.selector;
      t.check(!matches(selector, job.template.metadata.labels),
        where(`its pods are selected by ${other.kind} ${other.metadata.name}`));
    }
  }
  for (const sm of of("ServiceMonitor")) {
    const svc = of("Service").find((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
    const job = sm.spec.endpoints[0].relabelings?.find((r) => r.targetLabel === "job")?.replacement;
    t.check(svc && svc.spec.ports.some((p) => p.name === sm.spec.endpoints[0].port),
      say(`ServiceMonitor ${sm.metadata.name} selects no Service port`));
    t.check(["pixq-api", "pixq-worker"].includes(job), say(`ServiceMonitor ${sm.metadata.name}: job label ${job}`));
  }
  const ingress = of("Ingress")[0];
  if (ingress) {
    const size = ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"];
    const bytes = Number.parseInt(size, 10) * (size.endsWith("m") ? 1 << 20 : 1);
    t.check(bytes > (config.http.max_body_bytes ?? 52428800),
      say(`ingress proxy-body-size ${size} does not pass uploads of http.max_body_bytes`));
  }

  // Alert rules and dashboards are exactly observability/'s.
  for (const rule of of("PrometheusRule")) {
    t.check(isDeepStrictEqual(rule.spec.groups, alerts.groups),
      say("PrometheusRule groups differ from observability/alerts/pixq-alerts.yaml"));
  }
  const shipped = of("ConfigMap").filter((c) => c.metadata.labels?.grafana_dashboard === "1");
  for (const cm of shipped) {
    for (const [file, text] of Object.entries(cm.data)) {
      t.check(isDeepStrictEqual(JSON.parse(text), dashboards[file]),
        say(`dashboard ${file} differs from observability/dashboards/`));
    }
  }
  if (shipped.length > 0) t.check(shipped.length === Object.keys(dashboards).length, say("not every dashboard shipped"));

  const test = of("Pod")[0];
  if (test) {
    t.check(test.metadata.annotations["helm.sh/hook"] === "test", say("the test pod is not a helm test hook"));
  }
}

const sources = renderAll();
for (const source of sources) checkSource(source);
console.log(`${sources.length} sources checked (${sources.map((s) => s.name).join(", ")})`);

// The longest name the chart makes (fullnameOverride is cut at 50) still leaves the CronJob's
// Jobs a valid name.
const defaults = scenarios.find((s) => s.name === "defaults");
const long = helm(helmTemplateArgs(defaults, ["--set", `fullnameOverride=${"x".repeat(60)}`]));
if (t.check(long.ok, `helm template with a long fullnameOverride failed: ${long.stderr}`)) {
  const cj = parseDocuments(long.stdout, "long name").find((d) => d.kind === "CronJob");
  t.check(cj && cj.metadata.name.length <= 52, `CronJob name ${cj?.metadata.name} is longer than 52 characters`);
  console.log(`longest CronJob name: ${cj.metadata.name} (${cj.metadata.name.length} characters)`);
}
t.finish();
