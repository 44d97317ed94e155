// Checks pixq-api's OpenAPI description (pkg/http/openapi.json), offline:
//   1. it is a valid OpenAPI 3.1 document, by @seriousme/openapi-schema-validator (the OpenAPI
//      Initiative's published JSON schemas for 3.1), and every $ref in it resolves;
//   2. what that schema cannot see: operation ids unique, each path template's parameters declared
//      as path parameters and no others, every operation tagged with a declared tag and summarised,
//      security schemes that exist;
//   3. every example in it (schema `examples`, media type `example` and `examples`) is valid
//      against its own schema (Ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1);
//   4. with --samples DIR: the answers pixq-api really gave (recorded by tests/http's
//      RealAnswersTest) are valid against the schema the description gives for their operation,
//      status and media type; and the JSON requests it took are valid against the request
//      body's schema, while those it refused as an InvalidSpec are not.
//
//   node validate.mjs <openapi.json> [--samples DIR] [--self-test]
//
// --self-test also proves each check refuses a description broken in the way it looks for.
// The packages are locked in package-lock.json; scripts/setup.sh installs them with `npm ci`.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function pointer(segments) {
  return segments
    .map((s) => encodeURIComponent(String(s).replace(/~/g, "~0").replace(/\//g, "~1")))
    .join("/");
}

function resolve(spec, node) {
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    if (!node.$ref.startsWith("#/")) throw new Error(`not a local $ref: ${node.$ref}`);
    node = node.$ref
      .slice(2)
      .split("/")
      .map((s) => decodeURIComponent(s).replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((at, key) => (at === undefined ? undefined : at[key]), spec);
    if (node === undefined) throw new Error("a $ref names nothing");
  }
  return node;
}

async function checkOpenApi(spec) {
  const errors = [];
  const validator = new Validator();
  const result = await validator.validate(structuredClone(spec));
  if (!result.valid) {
    errors.push(`not a valid OpenAPI document: ${JSON.stringify(result.errors, null, 2)}`);
    return errors;
  }
  if (validator.version !== "3.1" || !/^3\.1\.\d+$/.test(spec.openapi)) {
    errors.push(`OpenAPI ${spec.openapi} (validated as ${validator.version}), not 3.1`);
  }
  try {
    validator.resolveRefs();
  } catch (e) {
    errors.push(`a $ref does not resolve: ${e.message}`);
  }
  return errors;
}

function checkSemantics(spec) {
  const errors = [];
  const operationIds = new Set();
  const tags = new Set((spec.tags ?? []).map((t) => t.name));
  const schemes = new Set(Object.keys(spec.components?.securitySchemes ?? {}));
  const checkSecurity = (security, where) => {
    for (const requirement of security ?? []) {
      for (const name of Object.keys(requirement)) {
        if (!schemes.has(name)) errors.push(`${where}: security scheme ${name} is not declared`);
      }
    }
  };
  checkSecurity(spec.security, "the document");
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!operation.operationId) errors.push(`${where}: no operationId`);
      if (operationIds.has(operation.operationId)) {
        errors.push(`${where}: operationId ${operation.operationId} is used twice`);
      }
      operationIds.add(operation.operationId);
      if (!operation.summary) errors.push(`${where}: no summary`);
      if (!operation.tags?.length) errors.push(`${where}: no tag`);
      for (const tag of operation.tags ?? []) {
        if (!tags.has(tag)) errors.push(`${where}: tag ${tag} is not declared`);
      }
      checkSecurity(operation.security, where);
      const declared = new Set();
      for (const p of [...(item.parameters ?? []), ...(operation.parameters ?? [])]) {
        const parameter = resolve(spec, p);
        if (parameter.in !== "path") continue;
        declared.add(parameter.name);
        if (!templated.has(parameter.name)) {
          errors.push(`${where}: path parameter ${parameter.name} is not in the path`);
        }
      }
      for (const name of templated) {
        if (!declared.has(name)) errors.push(`${where}: {${name}} is not declared as a parameter`);
      }
      if (!operation.responses || Object.keys(operation.responses).length === 0) {
        errors.push(`${where}: no responses`);
      }
    }
  }
  return errors;
}

// Ajv over the whole document, so that a schema anywhere in it is compiled where it stands and
// its local $refs resolve.
function schemaValidator(spec) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addFormat("binary", true);
  const id = "urn:pixq:openapi";
  ajv.addSchema({ ...structuredClone(spec), $id: id }, id, undefined, false);
  return (segments, value) => {
    const validate = ajv.getSchema(`${id}#/${pointer(segments)}`);
    if (!validate) return [`no schema at /${segments.join("/")}`];
    if (validate(value)) return [];
    return validate.errors.map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  };
}

function checkExamples(spec) {
  const errors = [];
  const validate = schemaValidator(spec);
  let checked = 0;
  const check = (segments, value, where) => {
    checked++;
    for (const e of validate(segments, value)) errors.push(`${where}: ${e}`);
  };
  for (const [name, schema] of Object.entries(spec.components?.schemas ?? {})) {
    (schema.examples ?? []).forEach((example, i) =>
      check(["components", "schemas", name], example, `schema ${name}, example ${i}`),
    );
  }
  // Media type objects: in request bodies and responses, inline or among the components.
  const walkContent = (content, base, where) => {
    for (const [type, media] of Object.entries(content ?? {})) {
      if (!media.schema) continue;
      const at = [...base, "content", type, "schema"];
      if ("example" in media) check(at, media.example, `${where} ${type} example`);
      for (const [name, example] of Object.entries(media.examples ?? {})) {
        const ex = resolve(spec, example);
        if ("value" in ex) check(at, ex.value, `${where} ${type} example ${name}`);
      }
    }
  };
  for (const [name, response] of Object.entries(spec.components?.responses ?? {})) {
    walkContent(response.content, ["components", "responses", name], `response ${name}`);
  }
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const base = ["paths", path, method];
      const where = `${method.toUpperCase()} ${path}`;
      if (operation.requestBody && !operation.requestBody.$ref) {
        walkContent(operation.requestBody.content, [...base, "requestBody"], `${where} request`);
      }
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.$ref) continue;  // checked among the components
        walkContent(response.content, [...base, "responses", status], `${where} ${status}`);
      }
    }
  }
  if (checked === 0) errors.push("no examples found: the example check checked nothing");
  return errors;
}

// Samples: [{method, path, status, mediaType, body, request?}], as tests/http's RealAnswersTest
// writes them.
function checkSamples(spec, samples) {
  const errors = [];
  const validate = schemaValidator(spec);
  let checked = 0;
  for (const sample of samples) {
    const where = `${sample.method} ${sample.path} answered ${sample.status} (${sample.mediaType})`;
    const method = sample.method.toLowerCase();
    const operation = spec.paths?.[sample.path]?.[method];
    if (!operation) {
      errors.push(`${where}: no such operation`);
      continue;
    }
    const requestSchema = operation.requestBody?.content?.["application/json"]?.schema;
    if ("request" in sample && requestSchema) {
      const refused = validate(
        ["paths", sample.path, method, "requestBody", "content", "application/json", "schema"],
        sample.request,
      );
      const shown = JSON.stringify(sample.request).slice(0, 300);
      if (sample.status.startsWith("2") && refused.length > 0) {
        errors.push(`${where}: took a request the description refuses: ${refused[0]}\n    ${shown}`);
      }
      if (sample.body?.reason === "InvalidSpec" && refused.length === 0) {
        errors.push(`${where}: refused (InvalidSpec) a request the description allows\n    ${shown}`);
      }
      checked++;
    }
    if (sample.body === null) continue;  // not JSON: its media type is checked by the C++ test
    const status = sample.status in operation.responses ? sample.status : "default";
    let base = ["paths", sample.path, method, "responses", status];
    let response = operation.responses[status];
    if (!response) {
      errors.push(`${where}: the status is not described`);
      continue;
    }
    if (response.$ref) {
      base = response.$ref.slice(2).split("/");
      response = resolve(spec, response);
    }
    const type = Object.keys(response.content ?? {}).find(
      (t) => t.split(";")[0].trim() === sample.mediaType,
    );
    if (!type || !response.content[type].schema) {
      errors.push(`${where}: the media type is not described`);
      continue;
    }
    checked++;
    for (const e of validate([...base, "content", type, "schema"], sample.body)) {
      errors.push(`${where}: ${e}\n    ${JSON.stringify(sample.body).slice(0, 400)}`);
    }
  }
  if (checked === 0) errors.push("no JSON answers among the samples: nothing was checked");
  return { errors, checked };
}

function readSamples(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  return files.flatMap((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
}

async function run(spec, samples) {
  const errors = [...(await checkOpenApi(spec))];
  if (errors.length === 0) {
    errors.push(...checkSemantics(spec));
    errors.push(...checkExamples(spec));
  }
  let checked = 0;
  if (samples && errors.length === 0) {
    const result = checkSamples(spec, samples);
    errors.push(...result.errors);
    checked = result.checked;
  }
  return { errors, checked };
}

async function selfTest(spec, samples) {
  const broken = {
    "a document without info.title": (s) => delete s.info.title,
    "a path parameter named differently in the path": (s) => {
      s.paths["/v1/jobs/{job}"] = s.paths["/v1/jobs/{id}"];
      delete s.paths["/v1/jobs/{id}"];
    },
    "an operationId used twice": (s) => (s.paths["/healthz"].get.operationId = "readyz"),
    "an example its schema refuses": (s) => (s.components.schemas.Image.examples[0].width = "wide"),
    "a dangling $ref": (s) => (s.paths["/v1/jobs"].post.responses["429"].$ref += "X"),
  };
  for (const [what, breakIt] of Object.entries(broken)) {
    const copy = structuredClone(spec);
    breakIt(copy);
    const { errors } = await run(copy, null);
    if (errors.length === 0) throw new Error(`self-test: ${what} was accepted`);
    console.log(`self-test: ${what} refused: ${errors[0].split("\n")[0].slice(0, 160)}`);
  }
  if (samples) {
    const job = samples.find((s) => s.body?.kind === "ImageJob");
    if (!job) throw new Error("self-test: no ImageJob among the samples");
    const bad = structuredClone(job);
    delete bad.body.status.phase;
    const { errors } = checkSamples(spec, [bad]);
    if (errors.length === 0) throw new Error("self-test: a job without status.phase was accepted");
    console.log(`self-test: a job answer without status.phase refused: ${errors[0].split("\n")[0]}`);
    const taken = samples.find((s) => s.request && s.status === "202");
    if (!taken) throw new Error("self-test: no accepted job request among the samples");
    const loose = structuredClone(taken);
    loose.request.steps = [{ op: "resize", width: 0 }];
    const refused = checkSamples(spec, [loose]).errors;
    if (refused.length === 0) throw new Error("self-test: a taken request with width 0 passed");
    console.log(`self-test: a taken request with width 0 refused: ${refused[0].split("\n")[0]}`);
  }
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--") && args[args.indexOf(a) - 1] !== "--samples");
if (!file) {
  console.error("usage: node validate.mjs <openapi.json> [--samples DIR] [--self-test]");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(file, "utf8"));
const samplesDir = args.includes("--samples") ? args[args.indexOf("--samples") + 1] : null;
const samples = samplesDir ? readSamples(samplesDir) : null;
const { errors, checked } = await run(spec, samples);
if (errors.length > 0) {
  for (const e of errors) console.error(`FAIL: ${e}`);
  process.exit(1);
}
const operations = Object.values(spec.paths).flatMap((item) => METHODS.filter((m) => item[m]));
console.log(`${file}: valid OpenAPI ${spec.openapi}, ${operations.length} operations`);
if (samples) console.log(`${checked} real JSON answers and requests match the description`);
if (args.includes("--self-test")) await selfTest(spec, samples);
