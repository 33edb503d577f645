-- Entity aggregates in one atomic call: read them as they were before this event, then record
-- the event. feature_store/script.py prepends the configuration (WINDOWS, LABEL, KINDS),
-- generated from the feature definitions. feature_store/online.py calls it with one block per
-- entity: on a single server every entity of a transaction in one call, on a cluster one call
-- per entity (the keys of a block share the entity's hash tag).
--
-- KEYS[1]  string  marks this transaction as recorded for the call's first entity; expires
--   after dedup_ms (dedup for the whole call)
-- then per block: the entity's state (a MessagePack string, see `new_state`), then one zset per
--   seen set of its kind (value -> last bucket seen)
-- ARGV: mode ("txn" or "label"), ts_ms, amount_cents, transaction_id, ttl_seconds, dedup_ms,
--   fingerprint (of the request, kept in the dedup marker), then per block: kind, then one
--   value per seen set of the kind ("" when missing)
--
-- Returns {recorded, then per block: count and sum per window, previous time, fraud count,
-- distinct count and is-new flag per seen set}; recorded is 1, or, when the transaction id was
-- seen before (then nothing is written), the fingerprint its first call left. -1 marks a missing value. An event older than the
-- entity's latest bucket is counted in the latest bucket.

local mode = ARGV[1]
local ts = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])

-- A ring is {last bucket, count, sum, slots}; slots[bucket % buckets] = {bucket, count, sum}
-- holds the buckets still inside the window. `s` holds, per seen set, the bucket in which
-- its zset was last pruned.
local function new_state()
  local rings = {}
  for w = 1, #WINDOWS do
    rings[w] = {-1, 0, 0, {}}
  end
  return {p = -1, w = rings, L = {-1, 0, 0, {}}, s = {}}
end

local function load_state(key)
  local raw = redis.call('GET', key)
  if raw then
    return cmsgpack.unpack(raw)
  end
  return new_state()
end

-- Moves a ring forward to bucket b; buckets that leave the window leave the totals.
local function advance(ring, buckets, b)
  local last = ring[1]
  if b <= last then
    return
  end
  if last < 0 or b - last >= buckets then
    ring[1], ring[2], ring[3], ring[4] = b, 0, 0, {}
    return
  end
  local slots = ring[4]
  for k = last + 1, b do
    local slot = slots[k % buckets]
    if slot then
      if slot[1] == k - buckets then
        ring[2], ring[3] = ring[2] - slot[2], ring[3] - slot[3]
      end
      slots[k % buckets] = nil
    end
  end
  ring[1] = b
end

local function add(ring, buckets, value)
  local last = ring[1]
  local slot = ring[4][last % buckets]
  if slot and slot[1] == last then
    slot[2], slot[3] = slot[2] + 1, slot[3] + value
  else
    ring[4][last % buckets] = {last, 1, value}
  end
  ring[2], ring[3] = ring[2] + 1, ring[3] + value
end

local function label_block(key)
  local state = load_state(key)
  advance(state.L, LABEL[2], math.floor(ts / LABEL[1]))
  add(state.L, LABEL[2], 0)
  redis.call('SET', key, cmsgpack.pack(state), 'EX', ttl)
end

local function seen_block(state, s, window, key, value, recorded, out)
  local b = math.floor(ts / window[1])
  local first = b - window[2] + 1
  out[#out + 1] = redis.call('ZCOUNT', key, first, '+inf')
  if value == '' then
    out[#out + 1] = -1
  else
    local score = tonumber(redis.call('ZSCORE', key, value) or '-1')
    out[#out + 1] = (score >= first) and 0 or 1
  end
  if recorded then
    if value ~= '' then
      redis.call('ZADD', key, 'GT', b, value)
    end
    -- Values that left the window are counted out by ZCOUNT; dropping them (and renewing the
    -- TTL, far longer than a bucket) once per bucket keeps the set bounded at little cost.
    if (state.s[s] or -1) < b then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. first)
      redis.call('EXPIRE', key, ttl)
      state.s[s] = b
    end
  end
end

local function txn_block(k, a, recorded, out)
  local key, kind = KEYS[k], KINDS[ARGV[a]]
  local state = load_state(key)
  for w = 1, #WINDOWS do
    local ring, buckets = state.w[w], WINDOWS[w][2]
    advance(ring, buckets, math.floor(ts / WINDOWS[w][1]))
    out[#out + 1] = ring[2]
    out[#out + 1] = ring[3]
    if recorded then
      add(ring, buckets, amount)
    end
  end
  local prev = state.p
  if kind.prev then
    local start = (math.floor(ts / kind.prev[1]) - kind.prev[2] + 1) * kind.prev[1]
    out[#out + 1] = (prev >= start) and prev or -1
  else
    out[#out + 1] = -1
  end
  if recorded and ts > prev then
    state.p = ts
  end
  if kind.label then
    advance(state.L, LABEL[2], math.floor(ts / LABEL[1]))
    out[#out + 1] = state.L[2]
  else
    out[#out + 1] = -1
  end
  for s, window in ipairs(kind.seen) do
    seen_block(state, s, window, KEYS[k + s], ARGV[a + s], recorded, out)
  end
  if recorded then
    redis.call('SET', key, cmsgpack.pack(state), 'EX', ttl)
  end
  return #kind.seen
end

if mode == 'label' then
  for k = 2, #KEYS do
    label_block(KEYS[k])
  end
  return {1}
end

local recorded = redis.call('SET', KEYS[1], ARGV[7], 'NX', 'PX', ARGV[6]) ~= false
local out = {1}
if not recorded then
  out[1] = redis.call('GET', KEYS[1]) or ''
end
local k, a = 2, 8
while a <= #ARGV do
  local seen = txn_block(k, a, recorded, out)
  k, a = k + 1 + seen, a + 1 + seen
end
return out
