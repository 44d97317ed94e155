// The config contract between the deployment and the binaries. For every chart scenario and
// every kustomize overlay, each Deployment's container and the retention CronJob's container
// (`pixq-worker sweep`) is run as the pod would run it: the binary of its image with its args,
// the ConfigMap's file where the pod mounts it, and its environment (the Secret's values where
// the chart renders the Secret, valid stand-ins where the Secret is made outside it, and the
// service-link variables Kubernetes adds unless the pod turns them off), plus --check-config.
// A values change the binaries (the sweeper included) would reject fails here.
// Also: the schema's config keys are exactly the binaries' keys less those the chart sets, and
// values.yaml's config defaults are the binaries' defaults but where the chart means to differ.
//
//   node check-config-contract.mjs <pixq-api> <pixq-worker> <work-dir> [--self-test]
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import {
  chart, harness, helm, helmTemplateArgs, parseDocuments, podTemplates, renderAll, run, scenarios,
} from "./lib.mjs";

const [apiBin, workerBin, workDir, flag] = process.argv.slice(2);
if (!workDir) {
  console.error("usage: node check-config-contract.mjs <pixq-api> <pixq-worker> <work-dir> [--self-test]");
  process.exit(2);
}
mkdirSync(workDir, { recursive: true });
// The binary an image runs: the image's name without registry, path and tag.
const binaries = { "pixq-api": apiBin, "pixq-worker": workerBin };
const imageName = (image) => image.replace(/[:@].*$/, "").replace(/^.*\//, "");
const t = harness("the binaries accept the rendered configuration");

// Stand-ins for Secrets made outside the chart (existingSecret, the prod overlay's pixq-auth).
const STAND_INS = {
  "api-key-sha256": createHash("sha256").update("a-key-made-outside-the-chart").digest("hex"),
  "signing-key": "a-signing-key-made-outside-the-chart-0123456789",
  properties: "sasl.username=pixq,sasl.password=made-outside-the-chart",
};

// What the kubelet puts in a container's environment for each Service with a cluster IP in the
// namespace when enableServiceLinks is not false (docker-link style variables).
function serviceLinkEnv(services) {
  const env = {};
  for (const svc of services) {
    if (svc.spec?.clusterIP === "None") continue;
    const name = svc.metadata.name.toUpperCase().replace(/-/g, "_");
    const ip = "10.96.0.10";
    svc.spec.ports.forEach((p, i) => {
      const proto = (p.protocol ?? "TCP").toLowerCase();
      const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`;
      if (i === 0) {
        env[`${name}_SERVICE_HOST`] = ip;
        env[`${name}_SERVICE_PORT`] = String(p.port);
        env[`${name}_PORT`] = `${proto}://${ip}:${p.port}`;
      }
      if (p.name) env[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, "_")}`] = String(p.port);
      env[prefix] = `${proto}://${ip}:${p.port}`;
      env[`${prefix}_PROTO`] = proto;
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = ip;
    });
  }
  return env;
}

function secretValue(docs, name, key) {
  const secret = docs.find((d) => d.kind === "Secret" && d.metadata.name === name);
  if (!secret) return STAND_INS[key];
  if (secret.stringData?.[key] !== undefined) return secret.stringData[key];
  const data = secret.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8");
}

// A neighbour in the namespace: Kafka installed beside pixq as release "pixq" has a Service
// pixq-kafka, whose service links (PIXQ_KAFKA_PORT=tcp://...) the binaries would read as
// configuration and refuse.
const NEIGHBOUR = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "pixq-kafka" },
  spec: { clusterIP: "10.96.0.20", ports: [{ name: "tcp-client", port: 9092, protocol: "TCP" }] },
};

// Runs every Deployment's and CronJob's container of one rendered source; returns
// [{ label, kind, ok, output }].
function checkSource(name, docs) {
  const results = [];
  const services = [...docs.filter((d) => d.kind === "Service"), NEIGHBOUR];
  for (const { owner, pod } of podTemplates(docs).filter((p) => p.owner.kind !== "Pod")) {
    for (const container of pod.containers) {
      const label = `${name} ${owner.kind} ${owner.metadata.name}/${container.name}`;
      const push = (ok, output) => results.push({ label, kind: owner.kind, ok, output });
      const binary = binaries[imageName(container.image)];
      if (!binary) {
        push(false, `no binary for image ${container.image}`);
        continue;
      }
      // The config file: the ConfigMap behind the volume mounted at the path in the args.
      const args = [...container.args];
      const configArg = args.indexOf("--config") + 1;
      const mount = container.volumeMounts.find((m) => args[configArg]?.startsWith(`${m.mountPath}/`));
      const volume = mount && pod.volumes.find((v) => v.name === mount.name);
      const configMap = volume?.configMap &&
        docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === volume.configMap.name);
      const fileName = configArg > 0 && mount ? args[configArg].slice(mount.mountPath.length + 1) : "";
      const text = configMap?.data?.[fileName];
      if (text === undefined) {
        push(false, `no ConfigMap file for --config ${args[configArg]}`);
        continue;
      }
      const file = join(workDir, `${label.replace(/[^A-Za-z0-9]+/g, "-")}.yaml`);
      writeFileSync(file, text);
      args[configArg] = file;

      const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
      if (pod.enableServiceLinks !== false) {
        Object.assign(env, serviceLinkEnv(services));
      }
      let missing = "";
      for (const e of container.env ?? []) {
        if (e.value !== undefined) env[e.name] = String(e.value);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) {
          const value = secretValue(docs, ref.name, ref.key);
          if (value !== undefined) env[e.name] = value;
          else if (!ref.optional) missing += ` ${ref.name}/${ref.key}`;
        }
      }
      if (missing) {
        push(false, `no value for secret keys${missing}`);
        continue;
      }
      const result = run(binary, [...args, "--check-config"], { env });
      push(result.ok, `${result.stdout}${result.stderr}`.trim());
    }
  }
  return results;
}

let containers = 0;
let sweepers = 0;
for (const { name, docs } of renderAll()) {
  const results = checkSource(name, docs);
  for (const r of results) {
    containers += 1;
    t.check(r.ok, `${r.label}: ${r.output}`);
  }
  // The CronJob's container is checked wherever it is rendered (chart_facts checks that it is
  // rendered exactly when retention.enabled).
  const cronJobs = docs.filter((d) => d.kind === "CronJob").length;
  const checked = results.filter((r) => r.kind === "CronJob");
  t.check(checked.length === cronJobs, `${name}: ${checked.length} CronJob containers checked of ${cronJobs}`);
  sweepers += checked.filter((r) => r.ok).length;
  console.log(`${name}: ${results.filter((r) => r.ok).map((r) => r.label.slice(name.length + 1)).join(", ")}`);
}
console.log(`${containers} containers (both binaries and the sweeper, every scenario and overlay) ` +
  `accept their configuration; ${sweepers} of them \`pixq-worker sweep\``);

// Keys: the binaries' (from --print-config) against the schema's config section.
const CHART_SETS = new Set([
  "kafka.bootstrap_servers", // from kafka.bootstrapServers
  "kafka.bootstrap_file", // the local broker's; not used in a cluster
  "storage.root", // from persistence.mountPath
  "state.dir", // the API's state volume (PIXQ_STATE_DIR)
  "worker.name", // the pod's hostname, the binary's default
  "auth.api_key_sha256", // from the Secret
  "auth.signing_key", // from the Secret
  "webhook.secret", // from the Secret (auth.webhookSecret)
]);
// values.yaml's config values that differ from the binaries' defaults on purpose.
const CHART_DIFFERS = { "auth.enabled": true };
function flatten(config) {
  const keys = {};
  for (const [section, entries] of Object.entries(config ?? {})) {
    for (const [key, value] of Object.entries(entries ?? {})) keys[`${section}.${key}`] = value;
  }
  return keys;
}
const printed = run(apiBin, ["--print-config"], { env: { PATH: process.env.PATH } });
t.check(printed.ok, `pixq-api --print-config failed: ${printed.stderr}`);
const binaryKeys = flatten(YAML.parse(printed.stdout));
const schema = JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8"));
const schemaKeys = new Set();
for (const [section, s] of Object.entries(schema.properties.config.properties)) {
  for (const key of Object.keys(s.properties)) schemaKeys.add(`${section}.${key}`);
}
for (const key of Object.keys(binaryKeys)) {
  if (CHART_SETS.has(key)) continue;
  t.check(schemaKeys.has(key),
    `config key ${key} of the binaries is missing from values.schema.json (and values.yaml)`);
}
for (const key of schemaKeys) {
  t.check(key in binaryKeys, `values.schema.json allows config key ${key}, which the binaries do not know`);
}
const values = YAML.parse(readFileSync(join(chart, "values.yaml"), "utf8"));
for (const [key, value] of Object.entries(flatten(values.config))) {
  const expected = key in CHART_DIFFERS ? CHART_DIFFERS[key] : binaryKeys[key];
  t.check(JSON.stringify(value) === JSON.stringify(expected),
    `values.yaml config.${key} is ${JSON.stringify(value)}, the binaries' default is ` +
      `${JSON.stringify(binaryKeys[key])}`);
}
console.log(`${schemaKeys.size} config keys in values.schema.json, ${Object.keys(binaryKeys).length} in the binaries`);

if (flag === "--self-test") {
  // A key the binaries do not know, let past the schema, a malformed key hash in the Secret,
  // and pods that keep Kubernetes' service links: each must make the binaries refuse.
  const defaults = scenarios.find((s) => s.name === "defaults");
  const withLinks = helm(helmTemplateArgs(defaults));
  withLinks.stdout = withLinks.stdout.replace(/enableServiceLinks: false/g, "enableServiceLinks: true");
  const unknownKey = helm(helmTemplateArgs(defaults, ["--skip-schema-validation", "--set", "config.http.prot=8081"]));
  // (The schema refuses a malformed hash too; it is skipped here to reach the binaries.)
  const badHash = helm(helmTemplateArgs(defaults, ["--skip-schema-validation", "--set", "auth.apiKeySha256[0]=0123"]));
  // A retention out of the binaries' range (the schema refuses it too).
  const badRetention = helm(helmTemplateArgs(defaults,
    ["--skip-schema-validation", "--set", "config.retention.outputs_s=400000000"]));
  for (const [label, rendered, expected] of [
    ["unknown config key", unknownKey, "http.prot"],
    ["malformed key hash", badHash, "auth.api_key_sha256"],
    ["service links on", withLinks, "PIXQ_KAFKA_"],
    ["retention out of range", badRetention, "retention.outputs_s"],
  ]) {
    if (!t.check(rendered.ok, `self-test: ${label}: helm template failed: ${rendered.stderr}`)) continue;
    const results = checkSource(`self-test ${label}`, parseDocuments(rendered.stdout, label));
    const refused = results.filter((r) => !r.ok && r.output.includes(expected));
    if (t.check(refused.length === results.length && results.length === 3,
      `self-test: ${label}: not refused by the API, the worker and the sweeper: ${JSON.stringify(results)}`)) {
      console.log(`self-test: ${label} refused (3 of 3): ${refused[0].output.split("\n")[0]}`);
    }
  }
  // The sweeper is run with the CronJob's own environment: without the key hashes the worker
  // has, it alone is refused.
  const docs = parseDocuments(helm(helmTemplateArgs(defaults)).stdout, "defaults");
  const sweep = docs.find((d) => d.kind === "CronJob").spec.jobTemplate.spec.template.spec.containers[0];
  sweep.env = sweep.env.filter((e) => e.name !== "PIXQ_AUTH_API_KEY_SHA256");
  const results = checkSource("self-test sweeper without the Secret", docs);
  const refused = results.filter((r) => !r.ok);
  if (t.check(refused.length === 1 && refused[0].kind === "CronJob" &&
    refused[0].output.includes("auth.api_key_sha256"),
  `self-test: a sweeper without the Secret's key hashes was not refused alone: ${JSON.stringify(results)}`)) {
    console.log(`self-test: sweeper without the Secret refused: ${refused[0].output.split("\n")[0]}`);
  }
}
t.finish();
