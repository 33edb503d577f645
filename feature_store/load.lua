-- Bulk load of entity states computed offline (feature_store/materialize.py): replaces every
-- key of each entity with the state a replay of the history would have left.
--
-- KEYS: per entity, `per_entity` keys: the windows hash, the dedup zset, then its seen sets.
-- ARGV[1]: JSON {"per_entity": n, "ttl": seconds, "dedup_ms": ms,
--                "entities": [{"h": [field, value, ...], "t": [score, id, ...],
--                              "s": [[score, value, ...], ...]}, ...]}

local spec = cjson.decode(ARGV[1])

-- Lua's stack limits unpack(), so long argument lists go in pieces of whole pairs.
local function chunked(command, key, items)
  for first = 1, #items, 2000 do
    local last = math.min(first + 1999, #items)
    redis.call(command, key, unpack(items, first, last))
  end
end

local per_entity = spec.per_entity
for index, entity in ipairs(spec.entities) do
  local base = (index - 1) * per_entity
  local keys = {}
  for k = 1, per_entity do
    keys[k] = KEYS[base + k]
  end
  redis.call('DEL', unpack(keys))
  if #entity.h > 0 then
    chunked('HSET', keys[1], entity.h)
    redis.call('EXPIRE', keys[1], spec.ttl)
  end
  if #entity.t > 0 then
    chunked('ZADD', keys[2], entity.t)
    redis.call('PEXPIRE', keys[2], spec.dedup_ms)
  end
  for s, members in ipairs(entity.s) do
    if #members > 0 then
      chunked('ZADD', keys[2 + s], members)
      redis.call('EXPIRE', keys[2 + s], spec.ttl)
    end
  end
end
return #spec.entities
