-- Enqueue one job. ARGV: id, payload, max_attempts, delay_ms, unique_key ('' = none),
-- unique_ttl_ms (0 = the key lives until the job starts; >0 = it lives that long, whatever the job),
-- tenant ('' = none; see push_ready).
-- Returns {id, created}: with a unique key still held, the first job's id and 0.
local id, payload, max_attempts = ARGV[1], ARGV[2], ARGV[3]
local delay, unique, unique_ttl = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local tenant = ARGV[7]
local now = now_ms()
if unique ~= '' then
  local uk = k('unique:' .. unique)
  local existing = redis.call('GET', uk)
  if existing and (unique_ttl > 0 or redis.call('EXISTS', jk(existing)) == 1) then
    return {existing, 0}
  end
  if unique_ttl > 0 then
    redis.call('SET', uk, id, 'PX', unique_ttl)
  else
    redis.call('SET', uk, id)
  end
end
local run_at = now + math.max(delay, 0)
redis.call('HSET', jk(id), 'id', id, 'payload', payload, 'attempt', 0,
  'max_attempts', max_attempts, 'enqueued_at', now, 'run_at', run_at, 'unique', unique,
  'unique_ttl', unique_ttl, 'status', 'ready', 'tenant', tenant)
if delay > 0 then
  redis.call('HSET', jk(id), 'status', 'scheduled')
  schedule(id, run_at)
else
  push_ready(tenant, {id})
  wake(1)
end
redis.call('HINCRBY', k('stats'), 'enqueued', 1)
count_minute(now, 'enqueued', 1)
return {id, 1}
