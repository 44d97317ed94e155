-- wrk -s submit.lua URL -- IMAGE_ID FIRST THREADS
-- POST /v1/jobs on one uploaded image, every request a job of its own: request n of thread t is
-- job FIRST + n * THREADS + t, and job i resizes to width 100 + (i / 400) % 5000 (narrower than
-- the photo, so never normalised away), grayscale or not, JPEG or WebP, quality 1..100: two million
-- distinct specs before one repeats (a repeat would be a 201 cache hit, counted below).
-- done() prints one line "JSON {...}": requests, duration, errors, latency percentiles, and how
-- many answers were 202 (accepted after Kafka's acknowledgement) and how many were anything else.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  image = args[1]
  first = tonumber(args[2] or "0")
  stride = tonumber(args[3] or "1")
  n = 0
  expected = 0
  other = 0
  other_status = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local i = first + n * stride + id
  n = n + 1
  local format = (i % 2 == 0) and "jpeg" or "webp"
  local gray = math.floor(i / 2) % 2 == 1
  local quality = math.floor(i / 4) % 100 + 1
  local width = 100 + math.floor(i / 400) % 5000
  local steps = string.format('{"op":"resize","width":%d}', width)
  if gray then steps = steps .. ',{"op":"grayscale"}' end
  local body = string.format(
    '{"source":{"imageId":"%s"},"steps":[%s],"output":{"format":"%s","quality":%d}}',
    image, steps, format, quality)
  return wrk.format("POST", "/v1/jobs", headers, body)
end

function response(status, headers, body)
  if status == 202 then
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
    '"answers":{"expected_status":202,"expected":%d,"other":%d,"an_other_status":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, ok, bad, bad_status))
end
