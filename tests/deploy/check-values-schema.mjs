// values.schema.json rejects unknown keys and wrong types:
//   1. every bad-values/*.yaml (on top of the default scenario) makes `helm template` fail, with
//      the message its "# expect:" line names;
//   2. every object in the schema closes its properties (additionalProperties false, or a schema
//      for the values of a free map such as labels), but for the few Kubernetes objects the chart
//      passes through as they are (the API server checks those);
//   3. every scenario in the chart's ci/ folder is rendered by the deploy tests.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chart, harness, helm, helmTemplateArgs, scenarios } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const t = harness("values.schema.json rejects bad values");
const defaults = scenarios.find((s) => s.name === "defaults");

const badDir = join(here, "bad-values");
for (const name of readdirSync(badDir).filter((f) => f.endsWith(".yaml")).sort()) {
  const text = readFileSync(join(badDir, name), "utf8");
  const expected = /^# expect: (.+)$/m.exec(text)?.[1];
  if (!t.check(expected, `${name}: no "# expect:" line`)) continue;
  const result = helm(helmTemplateArgs(defaults, ["-f", join(badDir, name)]));
  if (!t.check(!result.ok, `${name}: helm template accepted it`)) continue;
  if (t.check(result.stderr.includes(expected), `${name}: expected "${expected}" in:\n${result.stderr}`)) {
    console.log(`${name}: rejected (${expected})`);
  }
}

// Paths (JSON pointers into the schema) whose objects are Kubernetes types passed through.
const OPEN = new Set([
  "/properties/global", // Helm's own; no subcharts here
  "/definitions/kubernetesObject", // affinity, topology spread, network peers, egress rules
  "/definitions/envVar/properties/valueFrom", // an EnvVarSource
]);
const schema = JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8"));
let objects = 0;
function walk(node, path) {
  if (node === null || typeof node !== "object") return;
  const types = [].concat(node.type ?? []);
  if (types.includes("object") && !OPEN.has(path)) {
    objects += 1;
    const ap = node.additionalProperties;
    t.check(ap === false || (typeof ap === "object" && ap !== null),
      `schema ${path}: an object without additionalProperties: false`);
  }
  for (const [key, child] of Object.entries(node)) {
    if (typeof child === "object") walk(child, `${path}/${key}`);
  }
}
walk(schema, "");
console.log(`${objects} objects in values.schema.json close their properties`);

const rendered = new Set(scenarios.map((s) => s.values));
for (const file of readdirSync(join(chart, "ci"))) {
  t.check(rendered.has(file), `ci/${file} is not a scenario in tests/deploy/lib.mjs`);
}
t.finish();
