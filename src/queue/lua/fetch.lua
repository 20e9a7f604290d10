-- Lease up to ARGV[1] ready jobs to worker ARGV[4] for ARGV[2] ms, in one atomic step.
-- First moves due scheduled jobs to the ready list and takes back expired leases, each at most
-- ARGV[3] at a time, so a backlog of any size costs every fetch the same bounded work.
-- A job's unique key is released as it starts: a change that arrives while the job runs must
-- cause another run (a stock push, an import), so only jobs still waiting coalesce.
-- Returns {next_due_ms or -1, paused (0/1), then per job: id, attempt, payload, enqueued_at,
-- run_at}.
local n, lease, chunk, worker = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local now = now_ms()

local due = redis.call('ZRANGEBYSCORE', k('scheduled'), '-inf', now, 'LIMIT', 0, chunk)
if #due > 0 then
  redis.call('ZREM', k('scheduled'), unpack(due))
  redis.call('RPUSH', k('ready'), unpack(due))
  for _, id in ipairs(due) do redis.call('HSET', jk(id), 'status', 'ready') end
end

local expired = redis.call('ZRANGEBYSCORE', k('leased'), '-inf', now, 'LIMIT', 0, chunk)
for _, id in ipairs(expired) do
  redis.call('ZREM', k('leased'), id)
  local f = redis.call('HMGET', jk(id), 'attempt', 'max_attempts')
  local err = 'lease expired: the worker running attempt ' .. tostring(f[1]) .. ' was lost'
  redis.call('HSET', jk(id), 'last_error', err)
  redis.call('HINCRBY', k('stats'), 'reaped', 1)
  if tonumber(f[1]) >= tonumber(f[2]) then
    redis.call('HSET', jk(id), 'status', 'dead', 'finished_at', now)
    redis.call('ZADD', k('dead'), now, id)
    redis.call('HINCRBY', k('stats'), 'dead', 1)
  else
    redis.call('HSET', jk(id), 'status', 'ready')
    redis.call('RPUSH', k('ready'), id)
  end
end

local next_due = -1
local first = redis.call('ZRANGE', k('scheduled'), 0, 0, 'WITHSCORES')
if #first > 0 then next_due = tonumber(first[2]) end

if redis.call('EXISTS', k('paused')) == 1 then return {next_due, 1} end

local out = {next_due, 0}
local ids = redis.call('LPOP', k('ready'), n)
if not ids then return out end
local lat_sum, started = 0, 0
local leases = {}
local o = 2
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', jk(id), 'payload', 'enqueued_at', 'run_at', 'attempt', 'unique',
    'unique_ttl')
  if f[1] then
    local attempt = tonumber(f[4]) + 1
    redis.call('HSET', jk(id), 'attempt', attempt, 'status', 'running', 'started_at', now,
      'worker', worker)
    leases[2 * started + 1] = now + lease
    leases[2 * started + 2] = id
    lat_sum = lat_sum + math.max(now - tonumber(f[3]), 0)
    started = started + 1
    if f[5] and f[5] ~= '' and f[6] == '0' then
      local uk = k('unique:' .. f[5])
      if redis.call('GET', uk) == id then redis.call('DEL', uk) end
    end
    out[o + 1], out[o + 2], out[o + 3] = id, attempt, f[1]
    out[o + 4], out[o + 5] = f[2], f[3]
    o = o + 5
  end
end
if started > 0 then
  redis.call('ZADD', k('leased'), unpack(leases))
  count_minute(now, 'started', started)
  count_minute(now, 'latency_ms_sum', lat_sum)
end
-- Let another idle worker help with what is left.
if redis.call('LLEN', k('ready')) > 0 then wake(1) end
return out
