-- Enqueue many jobs that share their options and have no unique key, in one atomic step: a
-- request is stored whole or, when the call never reaches Redis complete, not at all.
-- ARGV: max_attempts, delay_ms, tenant ('' = none), then pairs of id, payload. Returns how many
-- were enqueued.
local max_attempts, delay, tenant = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
local run_at = now + math.max(delay, 0)
local status = 'ready'
if delay > 0 then status = 'scheduled' end
local ids = {}
for i = 4, #ARGV - 1, 2 do
  local id = ARGV[i]
  redis.call('HSET', jk(id), 'id', id, 'payload', ARGV[i + 1], 'attempt', 0,
    'max_attempts', max_attempts, 'enqueued_at', now, 'run_at', run_at, 'unique', '',
    'unique_ttl', 0, 'status', status, 'tenant', tenant)
  table.insert(ids, id)
end
if #ids == 0 then return 0 end
if delay > 0 then
  local first = redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
  for _, id in ipairs(ids) do redis.call('ZADD', k('scheduled'), run_at, id) end
  if #first == 0 or tonumber(first[2]) > run_at then wake(1) end
else
  push_ready(tenant, ids)
  wake(math.min(#ids, 8))
end
redis.call('HINCRBY', k('stats'), 'enqueued', #ids)
count_minute(now, 'enqueued', #ids)
return #ids
