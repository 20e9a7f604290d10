-- Shared helpers, prepended to every script when it is loaded (src/queue/scripts.rs).
-- KEYS[1] is always the queue's base key "{prefix:queue}": every key below shares its hash tag.
--
-- Redis does not undo a script's writes when the script fails halfway, so a script must never
-- raise after its first write: it reads a job with `read_job` (which never raises) and judges it
-- before writing anything for it, and a job it cannot read goes to the dead letters with the
-- reason instead of failing the whole call.
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
-- Writes fields of a job's record. A key of another type (only a hand-made one can be) is left as
-- it is rather than failing a script that has already written elsewhere.
local function set_job(id, ...)
  redis.pcall('HSET', jk(id), ...)
end
-- Reads fields `names` of a job's record without raising. `rules` marks the fields the caller
-- needs: 'text' must be present, 'number' must be present and numeric (and is returned as a
-- number); the others may be missing (false). Returns the fields by name, or nil and the reason
-- the job cannot be used.
local function read_job(id, names, rules)
  local f = redis.pcall('HMGET', jk(id), unpack(names))
  if f.err then return nil, 'its record cannot be read: ' .. f.err end
  local job = {}
  for i, name in ipairs(names) do
    local v, rule = f[i], rules[name]
    if rule and not v then
      if redis.call('EXISTS', jk(id)) == 0 then return nil, 'it has no record' end
      return nil, 'its record has no `' .. name .. '`'
    end
    if rule == 'number' then
      v = tonumber(v)
      if not v then return nil, 'its record\'s `' .. name .. '` is not a number' end
    end
    job[name] = v
  end
  return job
end
-- Moves a job to the dead letters with the reason.
local function bury(id, now, reason)
  set_job(id, 'id', id, 'status', 'dead', 'finished_at', now, 'last_error', reason)
  redis.call('ZADD', k('dead'), now, id)
  redis.call('HINCRBY', k('stats'), 'dead', 1)
end
-- A job is only the caller's to finish while it is running under the attempt the caller fetched.
local function owns(id, attempt)
  local f = redis.pcall('HMGET', jk(id), 'status', 'attempt')
  return not f.err and f[1] == 'running' and f[2] == attempt
end
-- Moves due scheduled jobs to the ready list and takes back expired leases (counting the lost
-- attempt), at most `chunk` of each, so a backlog of any size costs one call the same bounded
-- work. Returns how many jobs became ready.
local function promote(now, chunk)
  local ready = 0
  local due = redis.call('ZRANGEBYSCORE', k('scheduled'), '-inf', now, 'LIMIT', 0, chunk)
  if #due > 0 then
    redis.call('ZREM', k('scheduled'), unpack(due))
    redis.call('RPUSH', k('ready'), unpack(due))
    for _, id in ipairs(due) do set_job(id, 'status', 'ready') end
    ready = #due
  end
  local expired = redis.call('ZRANGEBYSCORE', k('leased'), '-inf', now, 'LIMIT', 0, chunk)
  for _, id in ipairs(expired) do
    redis.call('ZREM', k('leased'), id)
    redis.call('HINCRBY', k('stats'), 'reaped', 1)
    local job, why = read_job(id, {'attempt', 'max_attempts'},
      {attempt = 'number', max_attempts = 'number'})
    if not job then
      bury(id, now, 'lease expired, and the job cannot be retried: ' .. why)
    else
      local err = 'lease expired: the worker running attempt ' .. job.attempt .. ' was lost'
      if job.attempt >= job.max_attempts then
        bury(id, now, err)
      else
        set_job(id, 'status', 'ready', 'last_error', err)
        redis.call('RPUSH', k('ready'), id)
        ready = ready + 1
      end
    end
  end
  return ready
end
