-- One entity's aggregates in one atomic call: read them as they were before this event, then
-- record the event. Called by feature_store/online.py; all keys share the entity's hash tag.
--
-- KEYS[1] hash  window rings ("<w>" = "last:count:sum", "<w>:<slot>" = "bucket:count:sum"),
--               the label ring ("L", "L:<slot>") and the last transaction time ("prev")
-- KEYS[2] zset  recent transaction ids of the entity, scored by time (dedup)
-- KEYS[3..] zsets  one per seen set of the entity: value -> last bucket
--
-- ARGV: mode ("txn" or "label"), ts_ms, amount_cents, transaction_id, ttl_seconds, dedup_ms,
--       prev_bucket_ms (0: none), prev_buckets, label_bucket_ms (0: none), label_buckets,
--       window count,
--       then per window: bucket_ms, buckets; then per seen set: bucket_ms, buckets, value ("": none)
--
-- Returns {fresh, count_1, sum_1, ..., prev_ts, fraud_count, distinct_1, new_1, ...}, -1 where a
-- value is missing. An event with a bucket older than the entity's latest is counted in the
-- latest bucket (late events are rare online and absent in a replayed history).

local h = KEYS[1]
local mode = ARGV[1]
local ts = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])

local function fmt(x)
  return string.format('%.0f', x)
end

local function split3(text)
  local a, b, c = string.match(text, '^(-?%d+):(-?%d+):(-?%d+)$')
  return tonumber(a), tonumber(b), tonumber(c)
end

-- Moves ring `name` forward to the bucket of `at`, adds (add_count, add_sum) when asked, and
-- returns the totals of the window from before the addition.
local function ring(name, bucket_ms, buckets, at, add_count, add_sum)
  local b = math.floor(at / bucket_ms)
  local last, count, sum = -1, 0, 0
  local totals = redis.call('HGET', h, name)
  if totals then
    last, count, sum = split3(totals)
  end
  if b > last then
    if last < 0 or b - last >= buckets then
      count, sum = 0, 0
    else
      for k = last + 1, b do
        local slot = redis.call('HGET', h, name .. ':' .. (k % buckets))
        if slot then
          local sb, sc, ss = split3(slot)
          if sb == k - buckets then
            count, sum = count - sc, sum - ss
          end
        end
      end
    end
    last = b
  end
  local before_count, before_sum = count, sum
  if add_count > 0 then
    local field = name .. ':' .. (last % buckets)
    local slot = redis.call('HGET', h, field)
    local sc, ss = 0, 0
    if slot then
      local sb, c, s = split3(slot)
      if sb == last then
        sc, ss = c, s
      end
    end
    redis.call('HSET', h, field, fmt(last) .. ':' .. fmt(sc + add_count) .. ':' .. fmt(ss + add_sum))
    count, sum = count + add_count, sum + add_sum
  end
  redis.call('HSET', h, name, fmt(last) .. ':' .. fmt(count) .. ':' .. fmt(sum))
  return before_count, before_sum
end

local label_ms = tonumber(ARGV[9])
local label_buckets = tonumber(ARGV[10])

if mode == 'label' then
  ring('L', label_ms, label_buckets, ts, 1, 0)
  redis.call('EXPIRE', h, ttl)
  return {1}
end

local fresh = redis.call('ZADD', KEYS[2], 'NX', ts, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. fmt(ts - tonumber(ARGV[6])))
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local add = fresh
local out = {fresh}

local windows = tonumber(ARGV[11])
local i = 12
for w = 1, windows do
  local bucket_ms, buckets = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local count, sum = ring('w' .. w, bucket_ms, buckets, ts, add, add * amount)
  out[#out + 1] = count
  out[#out + 1] = sum
  i = i + 2
end

local prev = tonumber(redis.call('HGET', h, 'prev') or '-1')
local prev_ms, prev_buckets = tonumber(ARGV[7]), tonumber(ARGV[8])
if prev_ms > 0 then
  local start = (math.floor(ts / prev_ms) - prev_buckets + 1) * prev_ms
  out[#out + 1] = (prev >= start) and prev or -1
else
  out[#out + 1] = -1
end
if add == 1 and ts > prev then
  redis.call('HSET', h, 'prev', fmt(ts))
end

if label_ms > 0 then
  local frauds = ring('L', label_ms, label_buckets, ts, 0, 0)
  out[#out + 1] = frauds
else
  out[#out + 1] = -1
end
redis.call('EXPIRE', h, ttl)

local k = 3
while i <= #ARGV do
  local bucket_ms, buckets, value = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2]
  local key = KEYS[k]
  local b = math.floor(ts / bucket_ms)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. fmt(b - buckets + 1))
  if value == '' then
    out[#out + 1] = redis.call('ZCARD', key)
    out[#out + 1] = -1
  else
    local seen = redis.call('ZSCORE', key, value)
    out[#out + 1] = redis.call('ZCARD', key)
    out[#out + 1] = seen and 0 or 1
    if add == 1 then
      redis.call('ZADD', key, 'GT', b, value)
    end
  end
  redis.call('EXPIRE', key, ttl)
  i = i + 3
  k = k + 1
end
return out
