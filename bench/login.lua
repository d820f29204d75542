-- wrk script for bench/login.py: every request is a full password login of a seeded user.
-- bench/login.py fills in the globals below through environment variables.

local csrf_cookie = os.getenv("BENCH_CSRF_COOKIE")
local csrf_token = os.getenv("BENCH_CSRF_TOKEN")
local users = tonumber(os.getenv("BENCH_USERS"))
local password = os.getenv("BENCH_PASSWORD")
-- A returning browser's device cookie (accounts/takeover/); empty: every login a new device.
local device_cookie = os.getenv("BENCH_DEVICE_COOKIE") or ""
local cookies = "csrftoken=" .. csrf_cookie
if device_cookie ~= "" then cookies = cookies .. "; gatehouse_device=" .. device_cookie end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, other = 0, 0
  counter = id * 100003
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  counter = counter + 1
  local n = counter % users
  -- Each login comes from its own client address (behind one trusted proxy), as real
  -- traffic does; per-address rate limits still run on every request.
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = "login=" .. urlencode(string.format("user%d@bench.test", n))
    .. "&password=" .. urlencode(password)
    .. "&csrfmiddlewaretoken=" .. csrf_token
  return wrk.format("POST", "/accounts/login/", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookies,
    ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "gatehouse-bench/1",
  }, body)
end

response = function(status, headers, body)
  -- A successful login answers 302 to the account page; anything else is a failed login.
  if status == 302 and headers["Location"] == "/account/" then
    ok = ok + 1
  else
    other = other + 1
  end
end

done = function(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format(
    "BENCH_RESULT {\"ok\": %d, \"other\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d}\n",
    total_ok, total_other, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  ))
end
