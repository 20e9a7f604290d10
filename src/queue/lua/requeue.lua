-- Move dead letters back to the ready list with a fresh attempt budget.
-- ARGV[1]: 'one' with the job id in ARGV[2], or 'all' to take up to ARGV[2] of them (the
-- caller repeats until 0).
-- Returns how many were requeued.
local ids
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGE', k('dead'), 0, tonumber(ARGV[2]) - 1)
else
  if redis.call('ZSCORE', k('dead'), ARGV[2]) then ids = {ARGV[2]} else ids = {} end
end
for _, id in ipairs(ids) do
  redis.call('ZREM', k('dead'), id)
  set_job(id, 'status', 'ready', 'attempt', 0, 'run_at', now_ms())
  redis.pcall('HDEL', jk(id), 'finished_at')
  redis.call('RPUSH', k('ready'), id)
end
if #ids > 0 then wake(math.min(#ids, 8)) end
return #ids
