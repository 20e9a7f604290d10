-- Lease up to ARGV[1] ready jobs to worker ARGV[4] for ARGV[2] ms, in one atomic step.
-- First moves due scheduled jobs to the ready list and takes back expired leases, each at most
-- ARGV[3] at a time (see `promote`), so a backlog of any size costs every fetch the same bounded
-- work. A popped job whose record cannot be read goes to the dead letters with the reason; the
-- rest of the batch is leased as usual.
-- A job's unique key is released as it starts: a change that arrives while the job runs must
-- cause another run (a stock push, an import), so only jobs still waiting coalesce.
-- Returns {next_due_ms or -1, paused (0/1), then per job: id, attempt, payload, enqueued_at,
-- run_at}.
local n, lease, chunk, worker = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local now = now_ms()

promote(now, chunk)

local next_due = -1
local first = redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
if #first > 0 then next_due = tonumber(first[2]) end

if redis.call('EXISTS', k('paused')) == 1 then return {next_due, 1} end

local out = {next_due, 0}
local ids = pop_ready(n)
if #ids == 0 then return out end
local fields = {'payload', 'enqueued_at', 'run_at', 'attempt', 'unique', 'unique_ttl'}
local rules = {payload = 'text', enqueued_at = 'number', run_at = 'number', attempt = 'number'}
local lat_sum, started = 0, 0
local leases = {}
local o = 2
for _, id in ipairs(ids) do
  local job, why = read_job(id, fields, rules)
  if not job then
    bury(id, now, 'the job cannot be read: ' .. why)
  else
    local attempt = job.attempt + 1
    set_job(id, 'attempt', attempt, 'status', 'running', 'started_at', now, 'worker', worker)
    leases[2 * started + 1] = now + lease
    leases[2 * started + 2] = id
    lat_sum = lat_sum + math.max(now - job.run_at, 0)
    started = started + 1
    if job.unique and job.unique ~= '' and job.unique_ttl == '0' then
      local uk = k('unique:' .. job.unique)
      if redis.call('GET', uk) == id then redis.call('DEL', uk) end
    end
    out[o + 1], out[o + 2], out[o + 3] = id, attempt, job.payload
    out[o + 4], out[o + 5] = job.enqueued_at, job.run_at
    o = o + 5
  end
end
if started > 0 then
  redis.call('ZADD', k('leased'), unpack(leases))
  count_minute(now, 'started', started)
  count_minute(now, 'latency_ms_sum', lat_sum)
end
-- Let another idle worker help with what is left.
if any_ready() then wake(1) end
return out
