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
-- Fairness between tenants. A job enqueued for a tenant waits in its tenant's ready list
-- (`ready:t:<tenant>`), and `tenants` holds, in turn order, every tenant with a job waiting; jobs
-- without a tenant wait in `ready`. A fetch takes one job from `ready` and one from each tenant in
-- turn, round after round (`pop_ready`), so one tenant's backlog, however long, delays another
-- tenant's job by at most one fetch. `tenanted` counts the jobs waiting in tenants' lists.
local function tenant_of(id)
  local t = redis.pcall('HGET', jk(id), 'tenant')
  if type(t) ~= 'string' then return '' end
  return t
end
-- Puts jobs of one tenant ('' for none) at the tail of their ready list, or at its head (jobs
-- handed back unstarted), and gives a tenant that had nothing waiting its turn.
local function push_ready(tenant, ids, head)
  if #ids == 0 then return end
  local list = k('ready')
  if tenant ~= '' then list = k('ready:t:' .. tenant) end
  local cmd = 'RPUSH'
  if head then cmd = 'LPUSH' end
  local len = 0
  -- unpack() puts its values on Lua's stack, which holds about 8000: push in slices.
  for i = 1, #ids, 1000 do
    len = redis.call(cmd, list, unpack(ids, i, math.min(i + 999, #ids)))
  end
  if tenant ~= '' then
    redis.call('INCRBY', k('tenanted'), #ids)
    if len == #ids then redis.call('RPUSH', k('tenants'), tenant) end
  end
end
local function push_ready_one(id, head) push_ready(tenant_of(id), {id}, head) end
-- Takes up to n waiting jobs: all from `ready` while no tenant has any, else round-robin.
local function pop_ready(n)
  if redis.call('LLEN', k('tenants')) == 0 then
    return redis.call('LPOP', k('ready'), n) or {}
  end
  local ids = {}
  while #ids < n do
    local before = #ids
    local id = redis.call('LPOP', k('ready'))
    if id then table.insert(ids, id) end
    for _ = 1, redis.call('LLEN', k('tenants')) do
      if #ids >= n then break end
      local t = redis.call('LMOVE', k('tenants'), k('tenants'), 'LEFT', 'RIGHT')
      local list = k('ready:t:' .. t)
      local tid = redis.call('LPOP', list)
      if tid then
        table.insert(ids, tid)
        redis.call('DECR', k('tenanted'))
      end
      -- The tenant just served is last in turn: drop it there when it has nothing left.
      if redis.call('LLEN', list) == 0 then redis.call('RPOP', k('tenants')) end
    end
    if #ids == before then break end
  end
  return ids
end
-- Whether any job waits, with or without a tenant.
local function any_ready()
  return redis.call('LLEN', k('ready')) > 0 or redis.call('LLEN', k('tenants')) > 0
end
-- Moves due scheduled jobs to the ready list and takes back expired leases (counting the lost
-- attempt), at most `chunk` of each, so a backlog of any size costs one call the same bounded
-- work. Returns how many jobs became ready.
local function promote(now, chunk)
  local ready = 0
  local due = redis.call('ZRANGEBYSCORE', k('scheduled'), '-inf', now, 'LIMIT', 0, chunk)
  if #due > 0 then
    redis.call('ZREM', k('scheduled'), unpack(due))
    local by_tenant, order = {}, {}
    for _, id in ipairs(due) do
      set_job(id, 'status', 'ready')
      local t = tenant_of(id)
      if not by_tenant[t] then
        by_tenant[t] = {}
        table.insert(order, t)
      end
      table.insert(by_tenant[t], id)
    end
    for _, t in ipairs(order) do push_ready(t, by_tenant[t]) end
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
        push_ready_one(id)
        ready = ready + 1
      end
    end
  end
  return ready
end
