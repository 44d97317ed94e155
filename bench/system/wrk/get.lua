-- wrk -s get.lua URL -- IDS_FILE THREADS
-- GET /v1/jobs/{id} over the job ids in IDS_FILE (one a line), each thread going round them from
-- its own place. done() prints one line "JSON {...}" as submit.lua does, 200 being expected.
-- The client's own cost matters here (on 2 cores wrk shares the CPU with pixq-api): the requests
-- are formatted once, in init, and there is no response() callback, since calling Lua for every
-- answer cost wrk more CPU than pixq-api used. So the answers are counted from wrk's own summary:
-- every answer below 400 is "expected" (this route answers 200, or 404 for an unknown id, which
-- wrk counts as a status error).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(reqs, wrk.format("GET", "/v1/jobs/" .. line)) end
  end
  stride = tonumber(args[2] or "1")
  n = 0
end

function request()
  local i = (n * stride + id) % #reqs + 1
  n = n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local ok = summary.requests - e.status
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
    '"answers":{"expected_status":"below 400","expected":%d,"other":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, ok, e.status))
end
