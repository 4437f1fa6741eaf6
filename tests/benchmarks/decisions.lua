-- wrk script: POST /v1/decisions for random known customers (the same requests as the open-loop
-- generator: placement app.home, device phone 60 %, tablet 20 %, web 20 %).
-- Environment: BENCH_KEY, BENCH_POPULATION (customers c-0000000 …), BENCH_PREFIX (default c).
local key = os.getenv("BENCH_KEY") or ""
local population = tonumber(os.getenv("BENCH_POPULATION") or "100000")
local prefix = os.getenv("BENCH_PREFIX") or "c"
local types = {"phone", "phone", "phone", "tablet", "web"}

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or 42)
end

function request()
  local cid = string.format("%s-%07d", prefix, math.random(0, population - 1))
  local body = string.format('{"customer_id":"%s","placement":"app.home","device":{"id":"%s-d0","type":"%s"}}',
    cid, cid, types[math.random(1, 5)])
  return wrk.format(nil, nil, nil, body)
end
