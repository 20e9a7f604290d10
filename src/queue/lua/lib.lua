-- Shared helpers, prepended to every script when it is loaded (src/queue/scripts.rs).
-- KEYS[1] is always the queue's base key "{prefix:queue}": every key below shares its hash tag.
local base = KEYS[1]
local function k(suffix) return base .. ':' .. suffix end
local function jk(id) return base .. ':job:' .. id end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function wake(n)
  for _ = 1, n do redis.call('LPUSH', k('wake'), '1') end
  redis.call('LTRIM', k('wake'), 0, 63)
end
local function count_minute(now, field, by)
  local mk = k('m:' .. math.floor(now / 60000))
  redis.call('HINCRBY', mk, field, by)
  redis.call('EXPIRE', mk, 7200)
end
-- Keeps a finished set within its retention: older than cutoff, or beyond max_count, goes.
-- Removes at most `limit` per call, so one call never does unbounded work; callers pass a limit
-- above what they add, so the set shrinks back to its bounds.
local function trim(set, cutoff, max_count, limit)
  local old = redis.call('ZRANGEBYSCORE', k(set), '-inf', cutoff, 'LIMIT', 0, limit)
  if #old > 0 then
    redis.call('ZREM', k(set), unpack(old))
    for i = 1, #old do old[i] = jk(old[i]) end
    redis.call('DEL', unpack(old))
  end
  local over = redis.call('ZCARD', k(set)) - max_count
  if over > 0 then
    local popped = redis.call('ZPOPMIN', k(set), math.min(over, limit))
    local keys = {}
    for i = 1, #popped, 2 do table.insert(keys, jk(popped[i])) end
    if #keys > 0 then redis.call('DEL', unpack(keys)) end
  end
end
-- Wakes a sleeping worker when a newly scheduled time is earlier than any it may be sleeping to.
local function schedule(id, run_at)
  local first = redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
  redis.call('ZADD', k('scheduled'), run_at, id)
  if #first == 0 or tonumber(first[2]) > run_at then wake(1) end
end
-- A job is only the caller's to finish while it is running under the attempt the caller fetched.
local function owns(id, attempt)
  local f = redis.call('HMGET', jk(id), 'status', 'attempt')
  return f[1] == 'running' and f[2] == attempt
end
