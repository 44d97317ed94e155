// An OTLP/HTTP trace receiver for pixq's conformance tests, checking every export against the
// official OpenTelemetry JS implementation (conformance.mjs).
//
//   node receiver.mjs              listen on 127.0.0.1, a free port; print {"listening": URL}
//   node receiver.mjs --self-test  prove the check accepts what the official SDK exports and
//                                  refuses each kind of mistake it looks for; exit 1 if not
//
// POST /v1/traces with Content-Type application/json: 200 and {} (ExportTraceServiceResponse) when
// the body conforms, else 400 and a google.rpc.Status naming the first problems. Anything else
// (another path, method or content type) is answered 404, 405 or 415 and counted as rejected too.
// GET /spans answers what was received so far:
//   { "requests": n, "accepted": n, "rejected": [{ "request", "errors", "body" }],
//     "spans": [{ "service", "resource", "scope", "span" }] }   (as sent; accepted requests only)
//
// Exits 77 (ctest's skip code here) when the npm packages are not installed.
import { createServer, request as httpRequest } from "node:http";

let CheckTraceRequest;
try {
  ({ CheckTraceRequest } = await import("./conformance.mjs"));
} catch (e) {
  const missing = e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND";
  if (!missing || !e.message.includes("@opentelemetry/")) throw e;
  console.log(
    `skipped: the OpenTelemetry JS packages are not installed (${e.message.split("\n")[0]}); ` +
      "scripts/setup.sh installs them: npm ci --prefix tests/otlp",
  );
  process.exit(77);
}

const MAX_BODY = 16 << 20;

function startReceiver({ quiet = false } = {}) {
  const state = { requests: 0, accepted: 0, rejected: [], spans: [] };
  const reject = (res, status, label, errors, body) => {
    state.rejected.push({ request: label, errors, body: body.slice(0, 4000) });
    if (!quiet) console.log(JSON.stringify({ message: "rejected", request: label, errors }));
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ code: 3, message: errors.join("; ") })); // 3: INVALID_ARGUMENT
  };
  const server = createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => {
      const label = `${req.method} ${req.url}`;
      if (req.method === "GET" && req.url === "/spans") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(state));
        return;
      }
      state.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      if (req.url !== "/v1/traces")
        return reject(res, 404, label, ["OTLP/HTTP traces go to /v1/traces"], body);
      if (req.method !== "POST")
        return reject(res, 405, label, ["OTLP/HTTP exports are POSTs"], body);
      const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") {
        return reject(
          res,
          415,
          label,
          [`Content-Type ${JSON.stringify(type)}: OTLP/JSON is application/json`],
          body,
        );
      }
      if (req.headers["content-encoding"] && req.headers["content-encoding"] !== "identity") {
        return reject(
          res,
          415,
          label,
          [`Content-Encoding ${req.headers["content-encoding"]} not handled here`],
          body,
        );
      }
      if (size > MAX_BODY) return reject(res, 413, label, [`body over ${MAX_BODY} bytes`], "");
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch (e) {
        return reject(res, 400, label, [`not JSON: ${e.message}`], body);
      }
      let result;
      try {
        result = CheckTraceRequest(parsed);
      } catch (e) {
        result = { errors: [`the check failed: ${e.stack}`], spans: [] };
      }
      if (result.errors.length) return reject(res, 400, label, result.errors.slice(0, 20), body);
      state.accepted++;
      state.spans.push(...result.spans);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, state, url: `http://127.0.0.1:${server.address().port}` }),
    );
  });
}

// --- self-test -------------------------------------------------------------------------------

function post(url, path, body, headers = { "Content-Type": "application/json" }, method = "POST") {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

// A request as pixq's exporter writes it (pkg/observability/trace.cc, OtlpJson): one resource,
// one scope, a root server span and its child, every attribute type, an error status.
function pixqLike() {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: "pixq-api" } },
            { key: "deployment.environment", value: { stringValue: "test" } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: "pixq" },
            spans: [
              {
                traceId: "0af7651916cd43dd8448eb211c80319c",
                spanId: "b7ad6b7169203331",
                name: "POST /v1/jobs",
                kind: 2,
                startTimeUnixNano: "1700000000000000000",
                endTimeUnixNano: "1700000000123456789",
                attributes: [
                  { key: "http.route", value: { stringValue: "/v1/jobs" } },
                  { key: "http.response.status_code", value: { intValue: "202" } },
                  { key: "pixq.ratio", value: { doubleValue: 0.25 } },
                  { key: "pixq.cache_hit", value: { boolValue: false } },
                ],
                status: { code: 0 },
              },
              {
                traceId: "0af7651916cd43dd8448eb211c80319c",
                spanId: "00f067aa0ba902b7",
                parentSpanId: "b7ad6b7169203331",
                name: "pixq.jobs publish",
                kind: 4,
                startTimeUnixNano: "1700000000001000000",
                endTimeUnixNano: "1700000000002000000",
                attributes: [{ key: "pixq.whole", value: { doubleValue: 2 } }],
                status: { code: 2, message: "produce timed out" },
              },
            ],
          },
        ],
      },
    ],
  };
}

// What the official SDK exports: spans made with sdk-trace-base, written by JsonTraceSerializer.
async function officialBody() {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const api = require("@opentelemetry/api");
  const { resourceFromAttributes } = require("@opentelemetry/resources");
  const {
    BasicTracerProvider,
    InMemorySpanExporter,
    SimpleSpanProcessor,
  } = require("@opentelemetry/sdk-trace-base");
  const { JsonTraceSerializer } = require("@opentelemetry/otlp-transformer");
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "official", "host.cores": 2 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("self-test", "1.0.0");
  const root = tracer.startSpan("root", {
    kind: api.SpanKind.SERVER,
    attributes: { a: "x", n: 7, f: 0.5, b: true, l: ["p", "q"] },
  });
  const ctx = api.trace.setSpan(api.ROOT_CONTEXT, root);
  const child = tracer.startSpan("child", { kind: api.SpanKind.PRODUCER }, ctx);
  child.addEvent("happened", { k: "v" });
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: "broken" });
  child.end();
  root.end();
  return JSON.parse(
    new TextDecoder().decode(JsonTraceSerializer.serializeRequest(exporter.getFinishedSpans())),
  );
}

// Each mistake an exporter could make, applied to a pixq-like request: each must be refused, for
// the reason given.
const MISTAKES = {
  "a snake_case field name": [
    'spells it "startTimeUnixNano"',
    (r) => {
      const s = r.resourceSpans[0].scopeSpans[0].spans[0];
      s.start_time_unix_nano = s.startTimeUnixNano;
      delete s.startTimeUnixNano;
    },
  ],
  "a misnamed field": [
    'no field "spanKind"',
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].spanKind = 2;
    },
  ],
  "the pre-1.0 instrumentationLibrarySpans layout": [
    'no field "instrumentationLibrarySpans"',
    (r) => {
      r.resourceSpans[0].instrumentationLibrarySpans = r.resourceSpans[0].scopeSpans;
      delete r.resourceSpans[0].scopeSpans;
    },
  ],
  "spans directly under resourceSpans": [
    'no field "spans" in opentelemetry.proto.trace.v1.ResourceSpans',
    (r) => {
      r.resourceSpans[0].spans = r.resourceSpans[0].scopeSpans[0].spans;
      delete r.resourceSpans[0].scopeSpans;
    },
  ],
  "a trace id in base64": [
    "hex id expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].traceId = Buffer.from(
        "0af7651916cd43dd8448eb211c80319c",
        "hex",
      ).toString("base64");
    },
  ],
  "a span id of the wrong length": [
    "8-byte id expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].spanId = "b7ad6b716920333";
    },
  ],
  "an all-zero trace id": [
    "all-zero id",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].traceId = "0".repeat(32);
    },
  ],
  "a span without an id": [
    "spanId: required",
    (r) => {
      delete r.resourceSpans[0].scopeSpans[0].spans[0].spanId;
    },
  ],
  "a time as a JSON number that loses precision": [
    "loses precision",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano = 1700000000000000000;
    },
  ],
  "a time that is not a decimal string": [
    "fixed64 expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano = "1.7e18";
    },
  ],
  "a span that ends before it starts": [
    "ends before it starts",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano = "1600000000000000000";
    },
  ],
  "a kind written as its name": [
    "SpanKind as an integer expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].kind = "SPAN_KIND_SERVER";
    },
  ],
  "a kind that is not a SpanKind": [
    "not a value of opentelemetry.proto.trace.v1.Span.SpanKind",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].kind = 9;
    },
  ],
  "a status code as a string": [
    "StatusCode as an integer expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].status.code = "2";
    },
  ],
  "a status message with an unset code": [
    "official JsonTraceSerializer",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].status = { code: 0, message: "why" };
    },
  ],
  "an intValue that is not an integer": [
    "int64 expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value = { intValue: "202.5" };
    },
  ],
  "an attribute value that is not an AnyValue": [
    "AnyValue object expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value = "/v1/jobs";
    },
  ],
  "an AnyValue with two values": [
    "both set in oneof value",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue = "1";
    },
  ],
  "a NaN written as JSON's null": [
    "null, read as",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].attributes[2].value = { doubleValue: null };
    },
  ],
  "a boolValue as a string": [
    "boolean expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].spans[0].attributes[3].value = { boolValue: "false" };
    },
  ],
  "attributes as a map": [
    "repeated field expects an array",
    (r) => {
      r.resourceSpans[0].resource.attributes = { "service.name": "pixq-api" };
    },
  ],
  "a repeated attribute key": [
    "MUST be unique",
    (r) => {
      const attrs = r.resourceSpans[0].scopeSpans[0].spans[0].attributes;
      attrs.push(structuredClone(attrs[1]));
    },
  ],
  "no service.name": [
    "no service.name",
    (r) => {
      r.resourceSpans[0].resource.attributes.shift();
    },
  ],
  "a scope as a string": [
    "InstrumentationScope object expected",
    (r) => {
      r.resourceSpans[0].scopeSpans[0].scope = "pixq";
    },
  ],
};

async function selfTest() {
  const failures = [];
  const { server, url } = await startReceiver({ quiet: true });
  try {
    const ok = async (what, body) => {
      const r = await post(url, "/v1/traces", JSON.stringify(body));
      if (r.status !== 200 || r.body !== "{}")
        failures.push(`${what}: refused (${r.status}): ${r.body}`);
    };
    const refused = async (what, reason, body, path = "/v1/traces", headers, method) => {
      const r = await post(url, path, body, headers, method);
      if (r.status < 400) return failures.push(`${what}: accepted (${r.status})`);
      const status = JSON.parse(r.body);
      if (status.code !== 3) failures.push(`${what}: no google.rpc.Status`);
      if (!status.message.includes(reason))
        failures.push(`${what}: refused for another reason: ${status.message}`);
    };
    await ok("the official JsonTraceSerializer's request", await officialBody());
    await ok("a pixq-like request", pixqLike());
    const uppercase = pixqLike();
    // OTLP/JSON's hex is case-insensitive.
    uppercase.resourceSpans[0].scopeSpans[0].spans[0].spanId = "B7AD6B7169203331";
    uppercase.resourceSpans[0].scopeSpans[0].spans[1].parentSpanId = "B7AD6B7169203331";
    await ok("upper-case hex ids", uppercase);
    const special = pixqLike();
    special.resourceSpans[0].scopeSpans[0].spans[0].attributes.push(
      { key: "nan", value: { doubleValue: "NaN" } },
      { key: "inf", value: { doubleValue: "-Infinity" } },
    );
    await ok("NaN and Infinity as OTLP/JSON writes them", special);
    const numbers = pixqLike();
    // As the JS SDK writes it.
    numbers.resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value = { intValue: 202 };
    await ok("a 64-bit integer as an exact JSON number", numbers);
    for (const [what, [reason, mutate]] of Object.entries(MISTAKES)) {
      const body = pixqLike();
      mutate(body);
      await refused(what, reason, JSON.stringify(body));
    }
    await refused("not JSON", "not JSON", "{");
    await refused("the wrong path", "go to /v1/traces", JSON.stringify(pixqLike()), "/v1/trace");
    await refused(
      "the wrong content type",
      "OTLP/JSON is application/json",
      JSON.stringify(pixqLike()),
      "/v1/traces",
      {
        "Content-Type": "application/x-protobuf",
      },
    );
    await refused("a GET", "are POSTs", undefined, "/v1/traces", {}, "GET");

    const seen = await post(url, "/spans", undefined, {}, "GET");
    const got = JSON.parse(seen.body);
    if (got.accepted !== 5 || got.spans.length !== 10) {
      failures.push(
        `GET /spans: ${got.accepted} accepted, ${got.spans.length} spans; expected 5, 10`,
      );
    }
    const expectedRejected = Object.keys(MISTAKES).length + 4;
    if (got.rejected.length !== expectedRejected) {
      failures.push(`GET /spans: ${got.rejected.length} rejected, expected ${expectedRejected}`);
    }
    if (got.spans[2]?.service !== "pixq-api" || got.spans[2]?.span?.name !== "POST /v1/jobs") {
      failures.push(`GET /spans does not keep the spans as sent: ${JSON.stringify(got.spans[2])}`);
    }
  } finally {
    server.close();
  }
  if (failures.length) {
    console.error(`self-test failed:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log(
    `self-test: ${Object.keys(MISTAKES).length + 4} kinds of mistake refused, 5 conforming requests accepted`,
  );
}

if (process.argv.includes("--self-test")) {
  await selfTest();
} else {
  const { server, url } = await startReceiver();
  console.log(JSON.stringify({ listening: url }));
  void server;
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
}
