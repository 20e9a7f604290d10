-- Record a failed attempt. ARGV: id, attempt, error, permanent ('1'/'0'), retry_delay_ms,
-- dead_retention_ms, dead_retention_count.
-- Returns 1 when the job will be retried, 2 when it went to the dead letters, 0 when the caller
-- no longer owns it. A job whose attempt budget cannot be read is not retried: it goes to the
-- dead letters with its error and the reason.
local id, attempt, err, permanent = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if not owns(id, attempt) then return 0 end
local job, why = read_job(id, {'max_attempts', 'unique', 'unique_ttl'},
  {max_attempts = 'number'})
local now = now_ms()
redis.call('ZREM', k('leased'), id)
set_job(id, 'failed_at', now)
redis.call('HINCRBY', k('stats'), 'failed', 1)
count_minute(now, 'failed', 1)
if not job or permanent == '1' or tonumber(attempt) >= job.max_attempts then
  if not job then err = err .. ' (not retried: ' .. why .. ')' end
  bury(id, now, err)
  trim('dead', now - tonumber(ARGV[6]), tonumber(ARGV[7]), 100)
  return 2
end
local run_at = now + tonumber(ARGV[5])
set_job(id, 'status', 'retrying', 'run_at', run_at, 'last_error', err)
-- Waiting for its retry, the job is pending again: it takes back the unique key it gave up when
-- it started, so the same work asked for meanwhile coalesces into it instead of piling up behind
-- a failing target. A job enqueued during the run keeps the key if it holds it.
if job.unique and job.unique ~= '' and job.unique_ttl == '0' then
  local uk = k('unique:' .. job.unique)
  local holder = redis.call('GET', uk)
  if not holder or redis.call('EXISTS', jk(holder)) == 0 then
    redis.call('SET', uk, id)
  end
end
redis.call('HINCRBY', k('stats'), 'retried', 1)
schedule(id, run_at)
return 1
