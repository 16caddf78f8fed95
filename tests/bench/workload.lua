-- wrk workload for tests/bench/run.sh (not part of the test suite).
-- Usage: wrk ... -s workload.lua URL -- MODE BODY_BYTES KEY_PREFIX WARM_KEYS WARM_PREFIX
--   MODE newkey : every request carries a never-seen Idempotency-Key
--        replay : every request reuses one of WARM_KEYS pre-committed keys
--        mix    : 50% newkey, 50% replay (per request, random)
-- Keys are "<key prefix>-t<thread>-<counter>" so they are unique across
-- threads and across runs; warm keys are "<warm prefix>-warm-<i>" and must have
-- been POSTed beforehand with exactly the same body (see run.sh).

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local mode, body, prefix, warm, warm_prefix, counter

function init(args)
  mode = args[1] or "newkey"
  local n = tonumber(args[2] or "0")
  prefix = args[3] or tostring(os.time())
  warm = tonumber(args[4] or "16")
  warm_prefix = args[5] or prefix
  counter = 0
  if n and n > 0 then
    body = string.rep("x", n)
  else
    body = '{"event":"bench","n":1}'
  end
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local headers = { ["Content-Type"] = "application/json" }

local function new_key()
  counter = counter + 1
  return prefix .. "-t" .. tostring(tid or 0) .. "-" .. tostring(counter)
end

local function warm_key()
  return warm_prefix .. "-warm-" .. tostring(math.random(0, warm - 1))
end

function request()
  local key
  if mode == "replay" then
    key = warm_key()
  elseif mode == "mix" then
    if math.random() < 0.5 then key = new_key() else key = warm_key() end
  else
    key = new_key()
  end
  headers["Idempotency-Key"] = key
  return wrk.format("POST", "/events", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"non2xx3xx":%d,"connect_err":%d,"read_err":%d,"write_err":%d,"timeouts":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
