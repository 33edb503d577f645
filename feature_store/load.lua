-- Bulk load of entity states computed offline (feature_store/materialize.py): replaces every
-- key of each entity with the state a replay of the history would have left. The state string
-- has the shape entity.lua reads and writes.
--
-- KEYS: per entity, `per_entity` keys: its state, then its seen sets.
-- ARGV[1]: JSON {"per_entity": n, "ttl": seconds, "entities": [
--   {"a": {"p": prev, "w": [ring, ...], "L": ring}, "s": [[score, value, ...], ...]}, ...]}
-- where a ring is [last, count, sum, {"<slot>": [bucket, count, sum], ...}].

local spec = cjson.decode(ARGV[1])
local per_entity = spec.per_entity

-- Lua's stack limits unpack(), so long argument lists go in pieces of whole pairs.
local function chunked(command, key, items)
  for first = 1, #items, 2000 do
    local last = math.min(first + 1999, #items)
    redis.call(command, key, unpack(items, first, last))
  end
end

-- JSON object keys are strings; entity.lua indexes slots by number.
local function ring(json)
  local slots = {}
  for slot, value in pairs(json[4]) do
    slots[tonumber(slot)] = value
  end
  return {json[1], json[2], json[3], slots}
end

for index, entity in ipairs(spec.entities) do
  local base = (index - 1) * per_entity
  local keys = {}
  for k = 1, per_entity do
    keys[k] = KEYS[base + k]
  end
  redis.call('DEL', unpack(keys))
  local rings = {}
  for w, json in ipairs(entity.a.w) do
    rings[w] = ring(json)
  end
  local state = {p = entity.a.p, w = rings, L = ring(entity.a.L), s = {}}
  redis.call('SET', keys[1], cmsgpack.pack(state), 'EX', spec.ttl)
  for s, members in ipairs(entity.s) do
    if #members > 0 then
      chunked('ZADD', keys[1 + s], members)
      redis.call('EXPIRE', keys[1 + s], spec.ttl)
    end
  end
end
return #spec.entities
