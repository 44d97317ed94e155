// Checks an OTLP/HTTP JSON trace export (an ExportTraceServiceRequest) against the official
// OpenTelemetry JS implementation, in three steps:
//
//   1. Shape: the JSON is walked against the message types of the protobuf code that
//      @opentelemetry/otlp-transformer generated from the official opentelemetry-proto files
//      (build/src/generated/root.js). Field names, numbers, protobuf types, enums and oneofs are
//      read from that generated code, not written here. The OTLP/JSON rules apply
//      (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): lowerCamelCase keys
//      only; trace and span ids as hex, not base64; enums as integers, not names; 64-bit integers
//      as decimal strings or exact numbers; doubles as numbers or "NaN", "Infinity", "-Infinity";
//      other bytes as base64. An unknown field is an error here, although a production receiver
//      must ignore it: a field the exporter misnames is data lost without a word; so is null,
//      which protobuf's JSON mapping reads as "not set". So are duplicate attribute keys, missing
//      ids or times, and an end before the start (OTLP's data model).
//   2. Decoding: the request is then decoded by the generated code (fromObject, verify), encoded
//      to protobuf binary and decoded again; what comes back must mean what was sent, field by
//      field.
//   3. The official exporter: the same spans are made again with @opentelemetry/sdk-trace-base
//      (same ids, parents, kinds, times, attributes, status, resource and scope) and serialised by
//      the official JsonTraceSerializer; decoded the same way, that request must equal the one
//      checked. Span and link `flags` are left out of this comparison: the SDK records there
//      whether a parent was remote, which pixq does not track (the field is optional).
//
// CheckTraceRequest(body) returns { errors: [...], spans: [{ service, resource, scope, span }] }.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const generated = require("@opentelemetry/otlp-transformer/build/src/generated/root.js");
const { JsonTraceSerializer } = require("@opentelemetry/otlp-transformer");
const api = require("@opentelemetry/api");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const {
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} = require("@opentelemetry/sdk-trace-base");

const REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest";

// OTLP/JSON's one exception to protobuf's JSON mapping: these bytes fields are hex, and their
// length is fixed (an empty parentSpanId means a root span).
const HEX_IDS = {
  "opentelemetry.proto.trace.v1.Span": { traceId: 16, spanId: 8, parentSpanId: 8 },
  "opentelemetry.proto.trace.v1.Span.Link": { traceId: 16, spanId: 8 },
};
const REQUIRED_IDS = {
  "opentelemetry.proto.trace.v1.Span": ["traceId", "spanId"],
  "opentelemetry.proto.trace.v1.Span.Link": ["traceId", "spanId"],
};

// --- the schema, read from the generated code ------------------------------------------------

function lookup(path) {
  const type = path.split(".").reduce((at, part) => (at == null ? undefined : at[part]), generated);
  if (type == null) throw new Error(`generated code: no type ${path}`);
  return type;
}

const SCALARS = new Set([
  "string",
  "bytes",
  "bool",
  "double",
  "float",
  "int32",
  "sint32",
  "sfixed32",
  "uint32",
  "fixed32",
  "int64",
  "sint64",
  "sfixed64",
  "uint64",
  "fixed64",
]);
const schemas = new Map();

// The fields of message type `name`: from its generated encode (number, protobuf type, message
// type, repeated), toObject (enums, oneofs) and prototype (the complete list of fields, to make
// sure none was missed).
export function schemaOf(name) {
  if (schemas.has(name)) return schemas.get(name);
  const Type = lookup(name);
  const encode = Type.encode.toString();
  const toObject = Type.toObject.toString();
  if (/Object\.keys\(message\./.test(encode)) throw new Error(`${name}: map fields not supported`);
  const fields = new Map();
  const add = (field, info) => {
    if (fields.has(field)) throw new Error(`${name}.${field}: read twice from the generated code`);
    fields.set(field, info);
  };
  for (const m of encode.matchAll(
    /\$root\.([\w.]+)\.encode\(message\.(\w+)(\[i\])?, writer\.uint32\(\/\* id (\d+), wireType \d =\*\/ \d+\)/g,
  )) {
    add(m[2], { number: Number(m[4]), type: "message", message: m[1], repeated: !!m[3] });
  }
  for (const m of encode.matchAll(
    /writer\.uint32\(\/\* id (\d+), wireType \d =\*\/ \d+\)\.(\w+)\(message\.(\w+)(\[i\])?\)/g,
  )) {
    if (!SCALARS.has(m[2])) throw new Error(`${name}.${m[3]}: unknown protobuf type ${m[2]}`);
    add(m[3], { number: Number(m[1]), type: m[2], repeated: !!m[4] });
  }
  for (const m of encode.matchAll(
    /writer\.uint32\(\/\* id (\d+), wireType 2 =\*\/ \d+\)\.fork\(\);\s*for \([^)]*\)\s*writer\.(\w+)\(message\.(\w+)\[i\]\)/g,
  )) {
    add(m[3], { number: Number(m[1]), type: m[2], repeated: true });
  }
  for (const m of toObject.matchAll(
    /object\.(\w+)(?:\[j\])? = options\.enums === String \? \$root\.([\w.]+)\[/g,
  )) {
    const field = fields.get(m[1]);
    if (!field) throw new Error(`${name}.${m[1]}: an enum that encode does not write`);
    field.enum = m[2];
    field.values = new Set(Object.values(lookup(m[2])));
  }
  for (const m of toObject.matchAll(/if \(options\.oneofs\)\s*object\.(\w+) = "(\w+)";/g)) {
    fields.get(m[2]).oneof = m[1];
  }
  const declared = Object.entries(Object.getOwnPropertyDescriptors(Type.prototype))
    .filter(([key, d]) => key !== "constructor" && !d.get && typeof d.value !== "function")
    .map(([key]) => key);
  for (const key of declared) {
    if (!fields.has(key)) throw new Error(`${name}.${key}: not read from the generated code`);
  }
  if (declared.length !== fields.size) {
    throw new Error(`${name}: ${fields.size} fields read, ${declared.length} declared`);
  }
  const schema = { name, Type, fields };
  schemas.set(name, schema);
  for (const f of fields.values()) if (f.type === "message") schemaOf(f.message);
  return schema;
}

// --- step 1: the OTLP/JSON shape -------------------------------------------------------------

const INT_RANGES = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};
const is64 = (type) => /64$/.test(type);

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value).slice(0, 80)}`;
  if (typeof value === "object") return "an object";
  return `the ${typeof value} ${String(value)}`;
}

// An integer of protobuf type `type` as OTLP/JSON may write it, as a BigInt; throws otherwise.
function readInteger(value, type) {
  let n;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`${type} expected, got ${describe(value)}`);
    if (is64(type) && !Number.isSafeInteger(value)) {
      throw new Error(
        `${type} ${value} as a JSON number beyond 2^53 loses precision: write it as a decimal string`,
      );
    }
    n = BigInt(value);
  } else if (typeof value === "string" && /^-?(0|[1-9]\d*)$/.test(value)) {
    n = BigInt(value);
  } else {
    throw new Error(
      `${type} expected as ${is64(type) ? "a decimal string or a number" : "a number"}, got ${describe(value)}`,
    );
  }
  const [low, high] = INT_RANGES[type];
  if (n < low || n > high) throw new Error(`${value} is out of range for ${type}`);
  return n;
}

function checkScalar(value, field, typeName, key) {
  switch (field.type) {
    case "string":
      if (typeof value !== "string") throw new Error(`string expected, got ${describe(value)}`);
      return;
    case "bool":
      if (typeof value !== "boolean") throw new Error(`boolean expected, got ${describe(value)}`);
      return;
    case "double":
    case "float":
      if (typeof value === "number" || ["NaN", "Infinity", "-Infinity"].includes(value)) return;
      throw new Error(`${field.type} expected, got ${describe(value)}`);
    case "bytes": {
      const hexLength = HEX_IDS[typeName]?.[key];
      if (hexLength !== undefined) {
        if (typeof value !== "string" || !/^[0-9a-fA-F]*$/.test(value)) {
          throw new Error(
            `hex id expected (OTLP/JSON does not use base64 here), got ${describe(value)}`,
          );
        }
        if (value.length !== 0 && value.length !== 2 * hexLength) {
          throw new Error(
            `${hexLength}-byte id expected (${2 * hexLength} hex digits), got ${value.length} digits`,
          );
        }
        if (value.length !== 0 && /^0+$/.test(value)) throw new Error("an all-zero id is invalid");
        return;
      }
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
        throw new Error(`base64 expected, got ${describe(value)}`);
      }
      return;
    }
    default:
      if (field.enum) {
        if (typeof value !== "number" || !Number.isInteger(value)) {
          throw new Error(
            `${field.enum} as an integer expected (OTLP/JSON), got ${describe(value)}`,
          );
        }
        if (!field.values.has(value)) throw new Error(`${value} is not a value of ${field.enum}`);
        return;
      }
      readInteger(value, field.type);
  }
}

function attributeKeys(list, path, errors) {
  const seen = new Set();
  list.forEach((kv, i) => {
    if (kv === null || typeof kv !== "object" || typeof kv.key !== "string") return;
    if (kv.key === "") errors.push(`${path}[${i}].key: an attribute key must not be empty`);
    if (seen.has(kv.key))
      errors.push(`${path}[${i}]: attribute key "${kv.key}" repeated (OTLP: keys MUST be unique)`);
    seen.add(kv.key);
  });
}

function walk(value, typeName, path, errors) {
  const schema = schemaOf(typeName);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    errors.push(`${path}: ${typeName.split(".").pop()} object expected, got ${describe(value)}`);
    return;
  }
  const oneofs = new Map();
  for (const [key, v] of Object.entries(value)) {
    const at = `${path}.${key}`;
    const field = schema.fields.get(key);
    if (!field) {
      const camel = key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
      const hint =
        camel !== key && schema.fields.has(camel) ? ` (OTLP/JSON spells it "${camel}")` : "";
      errors.push(`${at}: no field "${key}" in ${typeName}${hint}`);
      continue;
    }
    if (v === null) {
      // Protobuf's JSON mapping reads null as the default, so a value written as null is lost:
      // JSON has no NaN or Infinity, and a serialiser that writes null for them drops the value
      // that OTLP/JSON writes as "NaN", "Infinity" or "-Infinity".
      errors.push(
        `${at}: null, read as "not set" (a double NaN or Infinity is written as a string)`,
      );
      continue;
    }
    if (field.oneof) {
      if (oneofs.has(field.oneof)) {
        errors.push(
          `${at}: "${oneofs.get(field.oneof)}" and "${key}" are both set in oneof ${field.oneof}`,
        );
      }
      oneofs.set(field.oneof, key);
    }
    const items = field.repeated ? v : [v];
    if (field.repeated && !Array.isArray(v)) {
      errors.push(`${at}: repeated field expects an array, got ${describe(v)}`);
      continue;
    }
    items.forEach((item, i) => {
      const itemPath = field.repeated ? `${at}[${i}]` : at;
      if (field.type === "message") {
        walk(item, field.message, itemPath, errors);
      } else {
        try {
          checkScalar(item, field, typeName, key);
        } catch (e) {
          errors.push(`${itemPath}: ${e.message}`);
        }
      }
    });
  }
  // What the data model requires beyond the types.
  for (const key of REQUIRED_IDS[typeName] ?? []) {
    if (!value[key]) errors.push(`${path}.${key}: required`);
  }
  if (typeName === "opentelemetry.proto.trace.v1.Span") {
    for (const key of ["startTimeUnixNano", "endTimeUnixNano"]) {
      if (value[key] == null) errors.push(`${path}.${key}: required`);
    }
    try {
      if (
        readInteger(value.endTimeUnixNano, "fixed64") <
        readInteger(value.startTimeUnixNano, "fixed64")
      ) {
        errors.push(`${path}: ends before it starts`);
      }
    } catch {
      // reported above
    }
  }
  if (
    Array.isArray(value.attributes) &&
    schema.fields.get("attributes")?.message === "opentelemetry.proto.common.v1.KeyValue"
  ) {
    attributeKeys(value.attributes, `${path}.attributes`, errors);
  }
  if (typeName === "opentelemetry.proto.trace.v1.ResourceSpans") {
    const attrs = value.resource?.attributes ?? [];
    const name = Array.isArray(attrs) ? attrs.find((a) => a?.key === "service.name") : undefined;
    if (typeof name?.value?.stringValue !== "string") {
      errors.push(`${path}.resource: no service.name string attribute (required of every SDK)`);
    }
  }
}

// --- step 2: decoding with the generated code ------------------------------------------------

// OTLP/JSON to protobufjs's object form: hex ids to bytes; the rest fromObject reads as it is.
function toProtobufObject(value, typeName) {
  const schema = schemaOf(typeName);
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    const field = schema.fields.get(key);
    if (v === null) continue;
    if (field.type === "message") {
      out[key] = field.repeated
        ? v.map((x) => toProtobufObject(x, field.message))
        : toProtobufObject(v, field.message);
    } else if (HEX_IDS[typeName]?.[key] !== undefined) {
      out[key] = Buffer.from(v, "hex");
    } else {
      out[key] = v;
    }
  }
  return out;
}

// A canonical form of a request read as OTLP/JSON (`value`, already walked) or of one decoded by
// the generated code (`decoded`, a protobufjs object): every id as hex, integers as decimal
// strings, doubles as numbers, and proto3 defaults (0, "", false, empty, absent) dropped except
// in oneofs, where a member set to its default is still the member that is set.
function canonical(value, typeName, fromDecoded) {
  const schema = schemaOf(typeName);
  const out = {};
  for (const [key, field] of schema.fields) {
    let v = value[key];
    if (v == null) continue;
    const one = (x) => {
      if (field.type === "message") return canonical(x, field.message, fromDecoded);
      if (field.type === "bytes") {
        if (HEX_IDS[typeName]?.[key] !== undefined) {
          return fromDecoded ? Buffer.from(x).toString("hex") : x.toLowerCase();
        }
        return fromDecoded
          ? Buffer.from(x).toString("base64")
          : Buffer.from(x, "base64").toString("base64");
      }
      if (field.type === "double" || field.type === "float")
        return typeof x === "string" ? Number(x) : x;
      if (field.type === "string" || field.type === "bool") return x;
      if (field.enum) return Number(x);
      return String(x); // Long, number or decimal string
    };
    v = field.repeated ? v.map(one) : one(v);
    const isDefault =
      (Array.isArray(v) && v.length === 0) ||
      v === "" ||
      v === "0" ||
      v === 0 ||
      v === false ||
      (field.type === "message" && !field.repeated && Object.keys(v).length === 0 && !field.oneof);
    if (isDefault && !field.oneof) continue;
    out[key] = v;
  }
  return out;
}

function firstDifference(a, b, path) {
  if (
    typeof a !== typeof b ||
    Array.isArray(a) !== Array.isArray(b) ||
    (a === null) !== (b === null)
  ) {
    return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (a !== null && typeof a === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))
    ? null
    : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

// Decodes `body` (walked) with the generated code, through protobuf binary; its canonical form.
function decodeOfficially(body) {
  const { Type } = schemaOf(REQUEST);
  const message = Type.fromObject(toProtobufObject(body, REQUEST));
  const problem = Type.verify(message);
  if (problem) throw new Error(`the generated code's verify: ${problem}`);
  const binary = Type.encode(message).finish();
  return canonical(Type.decode(binary), REQUEST, true);
}

// --- step 3: the same spans through sdk-trace-base and JsonTraceSerializer --------------------

// The JS SDK's attribute value for an AnyValue. What the SDK cannot carry exactly (an integer
// beyond 2^53, bytes, a key-value list; NaN and Infinity, which its JSON serialiser writes as
// null) goes through it as a placeholder string, and the official request gets the value that was
// sent back in its place: steps 1 and 2 read that exactly.
function toApiValue(any, stand_ins) {
  if ("stringValue" in any) return any.stringValue;
  if ("boolValue" in any) return any.boolValue;
  if ("doubleValue" in any && Number.isFinite(any.doubleValue)) return any.doubleValue;
  if ("intValue" in any && Number.isSafeInteger(Number(any.intValue))) return Number(any.intValue);
  if (
    "arrayValue" in any &&
    (any.arrayValue.values ?? []).every((v) => !v.arrayValue && !v.kvlistValue)
  ) {
    return (any.arrayValue.values ?? []).map((v) => toApiValue(canonicalAny(v), stand_ins));
  }
  stand_ins.push(any);
  return `${STAND_IN}${stand_ins.length - 1}`;
}
const STAND_IN = "\u0000pixq-conformance-stand-in:";
const canonicalAny = (v) => canonical(v, "opentelemetry.proto.common.v1.AnyValue", false);

function toApiAttributes(list, stand_ins) {
  const out = {};
  for (const kv of list ?? []) out[kv.key] = toApiValue(canonicalAny(kv.value ?? {}), stand_ins);
  return out;
}

// Puts the values that stood in for others back, in the official request's canonical form.
function restoreStandIns(value, stand_ins) {
  if (Array.isArray(value)) return value.map((v) => restoreStandIns(v, stand_ins));
  if (value === null || typeof value !== "object") return value;
  if (typeof value.stringValue === "string" && value.stringValue.startsWith(STAND_IN)) {
    const sent = stand_ins[Number(value.stringValue.slice(STAND_IN.length))];
    return Object.keys(sent).length ? sent : undefined; // an empty AnyValue is a default
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, restoreStandIns(v, stand_ins)]),
  );
}

function hrTime(nanos) {
  const n = BigInt(nanos ?? "0");
  return [Number(n / 1000000000n), Number(n % 1000000000n)];
}

// The request the official SDK exports for the spans in `request` (canonical form).
function officialRequest(request) {
  const finished = [];
  const stand_ins = [];
  for (const rs of request.resourceSpans ?? []) {
    const ids = { traceId: "", spanId: "" };
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(toApiAttributes(rs.resource?.attributes, stand_ins)),
      sampler: new AlwaysOnSampler(),
      idGenerator: { generateTraceId: () => ids.traceId, generateSpanId: () => ids.spanId },
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    for (const ss of rs.scopeSpans ?? []) {
      const tracer = provider.getTracer(ss.scope?.name ?? "", ss.scope?.version);
      for (const s of ss.spans ?? []) {
        ids.traceId = s.traceId;
        ids.spanId = s.spanId;
        const parent = s.parentSpanId
          ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
              traceId: s.traceId,
              spanId: s.parentSpanId,
              traceFlags: api.TraceFlags.SAMPLED,
            })
          : api.ROOT_CONTEXT;
        const span = tracer.startSpan(
          s.name ?? "",
          {
            kind: (s.kind ?? 1) - 1, // the API's SpanKind has no "unspecified"
            attributes: toApiAttributes(s.attributes, stand_ins),
            startTime: hrTime(s.startTimeUnixNano),
            links: (s.links ?? []).map((l) => ({
              context: { traceId: l.traceId, spanId: l.spanId, traceFlags: api.TraceFlags.SAMPLED },
              attributes: toApiAttributes(l.attributes, stand_ins),
            })),
          },
          parent,
        );
        for (const e of s.events ?? [])
          span.addEvent(
            e.name ?? "",
            toApiAttributes(e.attributes, stand_ins),
            hrTime(e.timeUnixNano),
          );
        if (s.status) span.setStatus({ code: s.status.code ?? 0, message: s.status.message });
        span.end(hrTime(s.endTimeUnixNano));
      }
    }
    finished.push(...exporter.getFinishedSpans());
  }
  const json = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(finished)));
  const errors = [];
  walk(json, REQUEST, "official", errors);
  if (errors.length)
    throw new Error(`the official serializer's own output fails the check: ${errors.join("; ")}`);
  return restoreStandIns(decodeOfficially(json), stand_ins);
}

function withoutFlags(request) {
  const copy = structuredClone(request);
  for (const rs of copy.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        delete s.flags;
        for (const l of s.links ?? []) delete l.flags;
      }
    }
  }
  return copy;
}

// JavaScript has one number type, so the SDK writes a whole double as an intValue: where it did,
// the official request is compared as holding the double that was sent.
function sameAttributeMeaning(ours, official) {
  const copy = structuredClone(official);
  const fix = (a, b) => {
    if (!a || !b || typeof a !== "object" || typeof b !== "object") return;
    if (Number.isInteger(a.doubleValue) && b.intValue === String(a.doubleValue)) {
      delete b.intValue;
      b.doubleValue = a.doubleValue;
    }
    for (const k of Object.keys(a)) if (k in b) fix(a[k], b[k]);
  };
  fix(ours, copy);
  return copy;
}

// --- the check -------------------------------------------------------------------------------

export function CheckTraceRequest(body) {
  const errors = [];
  walk(body, REQUEST, "request", errors);
  if (errors.length) return { errors, spans: [] };
  let decoded;
  try {
    decoded = decodeOfficially(body);
  } catch (e) {
    return { errors: [`the generated protobuf code cannot read it: ${e.message}`], spans: [] };
  }
  const sent = canonical(body, REQUEST, false);
  const lost = firstDifference(sent, decoded, "request");
  if (lost)
    return {
      errors: [
        `decoded by the generated protobuf code, it reads differently: ${lost} (sent vs decoded)`,
      ],
      spans: [],
    };
  try {
    const official = sameAttributeMeaning(sent, officialRequest(body));
    const differs = firstDifference(withoutFlags(sent), withoutFlags(official), "request");
    if (differs) {
      return {
        errors: [
          `differs from what the official JsonTraceSerializer writes for the same spans: ${differs} (sent vs official)`,
        ],
        spans: [],
      };
    }
  } catch (e) {
    return {
      errors: [`cannot make the same spans with the official SDK: ${e.message}`],
      spans: [],
    };
  }
  const spans = [];
  for (const rs of body.resourceSpans ?? []) {
    const service =
      (rs.resource?.attributes ?? []).find((a) => a.key === "service.name")?.value?.stringValue ??
      "";
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        spans.push({ service, resource: rs.resource ?? {}, scope: ss.scope ?? {}, span });
      }
    }
  }
  return { errors: [], spans };
}
