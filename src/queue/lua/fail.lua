-- Record a failed attempt. ARGV: id, attempt, error, permanent ('1'/'0'), retry_delay_ms,
-- dead_retention_ms, dead_retention_count.
-- Returns 1 when the job will be retried, 2 when it went to the dead letters, 0 when the caller
-- no longer owns it.
local id, attempt, err, permanent = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not owns(id, attempt) then return 0 end
local now = now_ms()
redis.call('ZREM', k('leased'), id)
redis.call('HSET', jk(id), 'last_error', err, 'failed_at', now)
redis.call('HINCRBY', k('stats'), 'failed', 1)
count_minute(now, 'failed', 1)
local max_attempts = tonumber(redis.call('HGET', jk(id), 'max_attempts'))
if permanent == '1' or tonumber(attempt) >= max_attempts then
  redis.call('HSET', jk(id), 'status', 'dead', 'finished_at', now)
  redis.call('ZADD', k('dead'), now, id)
  redis.call('HINCRBY', k('stats'), 'dead', 1)
  trim('dead', now - tonumber(ARGV[6]), tonumber(ARGV[7]), 100)
  return 2
end
local run_at = now + tonumber(ARGV[5])
redis.call('HSET', jk(id), 'status', 'retrying', 'run_at', run_at)
-- Waiting for its retry, the job is pending again: it takes back the unique key it gave up when
-- it started, so the same work asked for meanwhile coalesces into it instead of piling up behind
-- a failing target. A job enqueued during the run keeps the key if it holds it.
local f = redis.call('HMGET', jk(id), 'unique', 'unique_ttl')
if f[1] and f[1] ~= '' and f[2] == '0' then
  local uk = k('unique:' .. f[1])
  local holder = redis.call('GET', uk)
  if not holder or redis.call('EXISTS', jk(holder)) == 0 then
    redis.call('SET', uk, id)
  end
end
redis.call('HINCRBY', k('stats'), 'retried', 1)
schedule(id, run_at)
return 1
