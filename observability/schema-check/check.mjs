// Type-checks every dashboard in ../dashboards against Grafana's published dashboard schema
// (@grafana/schema), with TypeScript 5 in strict mode. Each dashboard becomes an object literal
// typed as `Dashboard`, so an unknown or misspelt field, or a value of the wrong type, is a type
// error (TypeScript's excess-property check), not silently ignored.
//
//   node check.mjs <work-dir>             check the dashboards; exit 1 on any error
//   node check.mjs <work-dir> --self-test also prove that a misspelt field is caught
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dashboards = resolve(here, "../dashboards");
const [workDir, flag] = process.argv.slice(2);
if (!workDir) {
  console.error("usage: node check.mjs <work-dir> [--self-test]");
  process.exit(2);
}
mkdirSync(workDir, { recursive: true });
const tsc = join(here, "node_modules/typescript/bin/tsc");
const schemaTypes = join(here, "node_modules/@grafana/schema/dist/types/index.d.ts");

function writeProject(dir, sources) {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (const [name, dashboard] of Object.entries(sources)) {
    const file = join(dir, `${name}.ts`);
    writeFileSync(
      file,
      `import type { Dashboard } from "@grafana/schema";\n` +
        `export const dashboard: Dashboard = ${JSON.stringify(dashboard, null, 2)};\n`,
    );
    files.push(file);
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
        paths: { "@grafana/schema": [schemaTypes] },
      },
      files,
    }),
  );
}

function typeCheck(dir) {
  try {
    execFileSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    return { ok: true, output: "" };
  } catch (e) {
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

const sources = {};
for (const name of readdirSync(dashboards).filter((f) => f.endsWith(".json")).sort()) {
  sources[name.replace(/\.json$/, "").replace(/[^A-Za-z0-9]/g, "_")] = JSON.parse(
    readFileSync(join(dashboards, name), "utf8"),
  );
}
if (Object.keys(sources).length === 0) {
  console.error(`no dashboards found in ${dashboards}`);
  process.exit(1);
}

writeProject(join(workDir, "dashboards"), sources);
const result = typeCheck(join(workDir, "dashboards"));
if (!result.ok) {
  console.error(`dashboards do not match @grafana/schema:\n${result.output}`);
  process.exit(1);
}
console.log(`${Object.keys(sources).length} dashboards match @grafana/schema's Dashboard type`);

if (flag === "--self-test") {
  // The same check must reject a misspelt panel field and a wrongly typed dashboard field.
  const [first] = Object.values(sources);
  const misspelt = structuredClone(first);
  misspelt.panels[0].gridPoss = misspelt.panels[0].gridPos;
  delete misspelt.panels[0].gridPos;
  const wrongType = structuredClone(first);
  wrongType.schemaVersion = "39";
  for (const [label, broken] of Object.entries({ misspelt, wrongType })) {
    const dir = join(workDir, `self-test-${label}`);
    writeProject(dir, { broken });
    const checked = typeCheck(dir);
    if (checked.ok) {
      console.error(`self-test: the ${label} dashboard was accepted; the check catches nothing`);
      process.exit(1);
    }
    console.log(`self-test: ${label} rejected: ${checked.output.split("\n")[0]}`);
  }
}
