-- Move jobs from the dead letters or the scheduled set to the ready list, to run now.
-- ARGV[1]: the set, 'dead' or 'scheduled'. ARGV[2]: 'one' with the job id in ARGV[3], or 'all'
-- to take up to ARGV[3] of them (the caller repeats until 0).
-- A dead letter starts again with a fresh attempt budget; a scheduled or retrying job keeps the
-- attempts it has used, and only runs sooner. Returns how many were moved.
local set = ARGV[1]
local ids
if ARGV[2] == 'all' then
  ids = redis.call('ZRANGE', k(set), 0, tonumber(ARGV[3]) - 1)
else
  if redis.call('ZSCORE', k(set), ARGV[3]) then ids = {ARGV[3]} else ids = {} end
end
local now = now_ms()
for _, id in ipairs(ids) do
  redis.call('ZREM', k(set), id)
  if set == 'dead' then
    set_job(id, 'status', 'ready', 'attempt', 0, 'run_at', now)
    redis.pcall('HDEL', jk(id), 'finished_at')
  else
    set_job(id, 'status', 'ready', 'run_at', now)
  end
  push_ready_one(id)
end
if #ids > 0 then wake(math.min(#ids, 8)) end
return #ids
