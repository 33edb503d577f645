-- Entity aggregates in one atomic call: read them as they were before this event, then record
-- the event. feature_store/script.py prepends the configuration (WINDOWS, DAY_MS, PREVIOUS_KEPT,
-- KINDS), generated from the features file. feature_store/online.py calls it with one
-- block per entity: on a single server every entity of a transaction in one call, on a
-- cluster one call per entity (the keys of a block share the entity's hash tag).
--
-- ARGV: mode, ts_ms, amount_cents, transaction_id, ttl_seconds, dedup_ms, fingerprint (of the
--   request, kept in the idempotency marker), then per block: kind, then one value per seen set
--   of the kind ("" when missing). Modes:
--   "txn"     KEYS[1] is the transaction's idempotency marker (keys.dedup_key), claimed here
--             with SET NX; the event is recorded only if this call claimed it (single server)
--   "claimed" the caller claimed the marker itself (cluster: it lives in another slot); record
--   "label"   a fraud label known at ts_ms on a transaction dated ARGV[3], on each block's state
--             (blocks are only a kind each, no seen sets)
--   "unlabel" takes back the fraud label counted at ts_ms on a transaction dated ARGV[3] (a
--             reversal), from the buckets it was counted in while they are kept
-- then per block: the entity's state (a MessagePack string, see `new_state`), then one zset per
--   seen set of its kind (value -> latest bucket seen).
--
-- Returns {recorded, then per block, as its kind keeps them: count and sum per window, the
-- previous time, the known fraud count, transactions and frauds per matured window, distinct
-- count and is-new flag per seen set}; recorded is 1, or, when the marker was claimed before
-- (then nothing is written), the fingerprint its first call left.
-- -1 marks a missing value.
--
-- Event time: every read is relative to the event's own time, over the events recorded
-- before it, so an event dated ahead of the rest (a skewed clock, a hostile client) leaves the
-- others' windows alone, and a late event counts in the windows that contain its own time.
-- A ring keeps the `kept` (window + spare) latest distinct buckets it has seen; an event older
-- than all of them once the ring is full is not kept (see docs/features.md, "Event time").

local mode = ARGV[1]
local ts = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])

-- A ring is {latest bucket, bucket count, oldest bucket, slots}; slots[bucket] =
-- {bucket, count, sum}. `w` maps a window's name to its ring, so that a window added to a kind
-- starts empty beside the others; `L` counts fraud labels by the time they became known, `M`
-- transactions (count) and fraud labels (sum) by the day of the transaction. `p` holds the
-- PREVIOUS_KEPT latest distinct event times, `s` per seen set the floor below which its zset
-- was last pruned.
local function new_ring()
  return {0, 0, 0, {}}
end

local function load_state(key)
  local raw = redis.call('GET', key)
  local state = raw and cmsgpack.unpack(raw) or {p = {}, s = {}}
  -- MessagePack has no empty map: an empty `w` or `s` comes back as an empty array.
  state.w = state.w or {}
  state.L = state.L or new_ring()
  state.M = state.M or new_ring()
  return state
end

local function ring_of(state, name)
  local ring = state.w[name]
  if not ring then
    ring = new_ring()
    state.w[name] = ring
  end
  return ring
end

-- The oldest bucket a full ring keeps: nothing older counts any more. nil until full.
local function floor_of(ring, kept)
  if ring[2] >= kept then
    return ring[3]
  end
  return nil
end

-- Count and sum of the buckets from `first` to `last`.
local function total(ring, first, last)
  local count, sum = 0, 0
  for b, slot in pairs(ring[4]) do
    if b >= first and b <= last then
      count, sum = count + slot[2], sum + slot[3]
    end
  end
  return count, sum
end

local function add(ring, kept, b, n, value)
  local slots = ring[4]
  local slot = slots[b]
  if slot then
    slot[2], slot[3] = slot[2] + n, slot[3] + value
    return
  end
  if ring[2] >= kept and b < ring[3] then
    return
  end
  slots[b] = {b, n, value}
  if ring[2] == 0 or b > ring[1] then
    ring[1] = b
  end
  if ring[2] < kept then
    if ring[2] == 0 or b < ring[3] then
      ring[3] = b
    end
    ring[2] = ring[2] + 1
    return
  end
  slots[ring[3]] = nil
  local oldest = b
  for k in pairs(slots) do
    if k < oldest then
      oldest = k
    end
  end
  ring[3] = oldest
end

-- The latest kept time at or before ts (nil if none).
local function previous(times)
  local best = nil
  for _, t in ipairs(times) do
    if t <= ts and (best == nil or t > best) then
      best = t
    end
  end
  return best
end

-- Keeps ts among the PREVIOUS_KEPT latest distinct times.
local function keep_time(times)
  for _, t in ipairs(times) do
    if t == ts then
      return
    end
  end
  if #times < PREVIOUS_KEPT then
    times[#times + 1] = ts
    return
  end
  local low = 1
  for i, t in ipairs(times) do
    if t < times[low] then
      low = i
    end
  end
  if ts > times[low] then
    times[low] = ts
  end
end

local function label_block(key, kind)
  local state = load_state(key)
  if kind.label then
    add(state.L, kind.label[3], math.floor(ts / kind.label[1]), 1, 0)
  end
  if kind.matured then
    add(state.M, kind.matured[1], math.floor(tonumber(ARGV[3]) / DAY_MS), 0, 1)
  end
  redis.call('SET', key, cmsgpack.pack(state), 'EX', ttl)
end

-- Transactions and frauds of each matured window (whole days, `maturity` days back).
local function matured_block(state, matured, recorded, out)
  local day = math.floor(ts / DAY_MS)
  local last = day - matured[2]
  for _, days in ipairs(matured[3]) do
    local count, frauds = total(state.M, last - days + 1, last)
    out[#out + 1] = count
    out[#out + 1] = frauds
  end
  if recorded then
    add(state.M, matured[1], day, 1, 0)
  end
end

local function unlabel_block(key, kind)
  local raw = redis.call('GET', key)
  if not raw then
    return
  end
  local state = load_state(key)
  if kind.label then
    local slot = state.L[4][math.floor(ts / kind.label[1])]
    if slot and slot[2] > 0 then
      slot[2] = slot[2] - 1
    end
  end
  if kind.matured then
    local slot = state.M[4][math.floor(tonumber(ARGV[3]) / DAY_MS)]
    if slot and slot[3] > 0 then
      slot[3] = slot[3] - 1
    end
  end
  redis.call('SET', key, cmsgpack.pack(state), 'KEEPTTL')
end

local function seen_block(state, s, seen, floor, key, value, recorded, out)
  local b = math.floor(ts / seen[1])
  local first = b - seen[2] + 1
  if floor and floor > first then
    first = floor
  end
  out[#out + 1] = redis.call('ZCOUNT', key, first, '+inf')
  if value == '' then
    out[#out + 1] = -1
  else
    local score = redis.call('ZSCORE', key, value)
    out[#out + 1] = (score and tonumber(score) >= first) and 0 or 1
  end
  if recorded then
    if value ~= '' then
      redis.call('ZADD', key, 'GT', b, value)
    end
    redis.call('EXPIRE', key, ttl)
    -- Below the ring's floor nothing counts again (floors only rise): drop it once per rise.
    local ring_floor = floor_of(state.w[seen[3]], WINDOWS[seen[3]][3])
    if ring_floor and (state.s[s] or ring_floor - 1) < ring_floor then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ring_floor)
      state.s[s] = ring_floor
    end
  end
end

local function txn_block(k, a, recorded, out)
  local key, kind = KEYS[k], KINDS[ARGV[a]]
  local state = load_state(key)
  local floors = {}
  for _, name in ipairs(kind.w) do
    local ring, window = ring_of(state, name), WINDOWS[name]
    local b = math.floor(ts / window[1])
    floors[name] = floor_of(ring, window[3])
    local count, sum = total(ring, b - window[2] + 1, b)
    out[#out + 1] = count
    out[#out + 1] = sum
    if recorded then
      add(ring, window[3], b, 1, amount)
    end
  end
  if kind.prev then
    local prev = previous(state.p)
    local start = (math.floor(ts / kind.prev[1]) - kind.prev[2] + 1) * kind.prev[1]
    out[#out + 1] = (prev and prev >= start) and prev or -1
    if recorded then
      keep_time(state.p)
    end
  end
  if kind.label then
    local b = math.floor(ts / kind.label[1])
    out[#out + 1] = total(state.L, b - kind.label[2] + 1, b)
  end
  if kind.matured then
    matured_block(state, kind.matured, recorded, out)
  end
  for s, seen in ipairs(kind.seen) do
    seen_block(state, s, seen, floors[seen[3]], KEYS[k + s], ARGV[a + s], recorded, out)
  end
  if recorded then
    redis.call('SET', key, cmsgpack.pack(state), 'EX', ttl)
  end
  return #kind.seen
end

if mode == 'label' or mode == 'unlabel' then
  for k = 1, #KEYS do
    if mode == 'label' then
      label_block(KEYS[k], KINDS[ARGV[7 + k]])
    else
      unlabel_block(KEYS[k], KINDS[ARGV[7 + k]])
    end
  end
  return {1}
end

local out, k = {1}, 1
local recorded = mode == 'claimed'
if mode == 'txn' then
  recorded, k = redis.call('SET', KEYS[1], ARGV[7], 'NX', 'PX', ARGV[6]) ~= false, 2
  if not recorded then
    out[1] = redis.call('GET', KEYS[1]) or ''
  end
end
local a = 8
while a <= #ARGV do
  local seen = txn_block(k, a, recorded, out)
  k, a = k + 1 + seen, a + 1 + seen
end
return out
