-- Bulk load of entity states computed offline (feature_store/materialize.py): replaces every
-- key of each entity with the state a replay of the history would have left.
--
-- KEYS: per entity, its state key, then one key per seen set of its kind.
-- ARGV[1]: MessagePack [seen sets per entity, ttl seconds, entities], each entity being
--   [state (MessagePack bytes in the format entity.lua keeps), [[score, value, ...], ...]].

local spec = cmsgpack.unpack(ARGV[1])
local seen_count, ttl, entities = spec[1], spec[2], spec[3]

-- Lua's stack limits unpack(), so long member lists go in pieces of whole pairs.
local function zadd(key, items)
  for first = 1, #items, 2000 do
    local last = math.min(first + 1999, #items)
    redis.call('ZADD', key, unpack(items, first, last))
  end
end

for index, entity in ipairs(entities) do
  local base = (index - 1) * (1 + seen_count)
  redis.call('SET', KEYS[base + 1], entity[1], 'EX', ttl)
  for s = 1, seen_count do
    local key, members = KEYS[base + 1 + s], entity[2][s]
    redis.call('DEL', key)
    if #members > 0 then
      zadd(key, members)
      redis.call('EXPIRE', key, ttl)
    end
  end
end
return #entities
