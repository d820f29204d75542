-- wrk script for bench/scim.py. BENCH_MODE picks the request:
--   healthz  GET /healthz (the trivial view the creation rate is measured against)
--   create   POST /scim/v2/Users: a new person of the directory's domain (BENCH_DOMAIN) each
--            time, with the directory's token (BENCH_TOKEN); names carry BENCH_RUN and the
--            thread, so no two requests of any run ask for the same userName
-- A request counts as done only with the answer that proves the work: 200 for healthz, 201 for
-- a creation.

local mode = os.getenv("BENCH_MODE")
local token = os.getenv("BENCH_TOKEN") or ""
local domain = os.getenv("BENCH_DOMAIN") or ""
local run = os.getenv("BENCH_RUN") or "0"

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, other, counter = 0, 0, 0
end

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/scim+json",
  ["Accept"] = "application/scim+json",
}

request = function()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz")
  end
  counter = counter + 1
  local name = string.format("bench-create-%s-%d-%d", run, id, counter)
  local body = string.format(
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s@%s",' ..
    '"externalId":"%s","emails":[{"value":"%s@%s","type":"work","primary":true}],"active":true}',
    name, domain, name, name, domain)
  return wrk.format("POST", "/scim/v2/Users", headers, body)
end

response = function(status, headers, body)
  if (mode == "healthz" and status == 200) or (mode == "create" and status == 201) then
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
    "BENCH_RESULT {\"ok\": %d, \"other\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p95_us\": %d, \"errors\": %d}\n",
    total_ok, total_other, summary.duration, latency:percentile(50), latency:percentile(95),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  ))
end
