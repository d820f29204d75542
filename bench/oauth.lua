-- wrk script for bench/oauth.py. BENCH_MODE picks the request:
--   healthz     GET /healthz (the trivial view every ratio is measured against)
--   cc          client credentials for one API (Basic auth)
--   refresh     the refresh grant, each request spending the next refresh token of the pool
--               (BENCH_PREFIX .. n for n from BENCH_OFFSET on: every token is used once)
--   introspect  RFC 7662 for a random token of the pool (BENCH_PREFIX .. 1..BENCH_POOL)
-- A request counts as done only with the answer that proves the work: 200 (and "active":
-- true for introspection).

local mode = os.getenv("BENCH_MODE")
local auth = os.getenv("BENCH_AUTH") or ""
local resource = os.getenv("BENCH_RESOURCE") or ""
local prefix = os.getenv("BENCH_PREFIX") or ""
local pool = tonumber(os.getenv("BENCH_POOL") or "1")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")

local threads = {}
counter = 0  -- global: done() reads each thread's last token number

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, other = 0, 0
  counter = offset
  math.randomseed(os.time() + id)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local form = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }

request = function()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz")
  elseif mode == "cc" then
    return wrk.format("POST", "/o/token/", form,
      "grant_type=client_credentials&resource=" .. urlencode(resource))
  elseif mode == "refresh" then
    counter = counter + 1
    return wrk.format("POST", "/o/token/", form,
      "grant_type=refresh_token&refresh_token=" .. prefix .. counter)
  else
    return wrk.format("POST", "/o/introspect/", form,
      "token=" .. prefix .. math.random(pool))
  end
end

response = function(status, headers, body)
  if status == 200 and (mode ~= "introspect" or string.find(body, '"active": true', 1, true)) then
    ok = ok + 1
  else
    other = other + 1
  end
end

done = function(summary, latency, requests)
  local total_ok, total_other, used = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
    used = math.max(used, thread:get("counter"))
  end
  io.write(string.format(
    "BENCH_RESULT {\"ok\": %d, \"other\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d, \"last\": %d}\n",
    total_ok, total_other, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    used
  ))
end
