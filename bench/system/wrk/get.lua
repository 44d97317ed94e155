-- wrk -s get.lua URL -- IDS_FILE THREADS
-- GET /v1/jobs/{id} over the job ids in IDS_FILE (one a line), each thread going round them from
-- its own place. done() prints one line "JSON {...}" as submit.lua does, 200 being expected.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(ids, line) end
  end
  stride = tonumber(args[2] or "1")
  n = 0
  expected = 0
  other = 0
  other_status = 0
end

function request()
  local i = (n * stride + id) % #ids + 1
  n = n + 1
  return wrk.format("GET", "/v1/jobs/" .. ids[i])
end

function response(status, headers, body)
  if status == 200 then
    expected = expected + 1
  else
    other = other + 1
    other_status = status
  end
end

function done(summary, latency, requests)
  local ok, bad, bad_status = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("expected")
    bad = bad + t:get("other")
    if t:get("other_status") ~= 0 then bad_status = t:get("other_status") end
  end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
    '"answers":{"expected_status":200,"expected":%d,"other":%d,"an_other_status":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, ok, bad, bad_status))
end
