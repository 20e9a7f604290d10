-- Take up to ARGV[1] leases of the limit whose base key is KEYS[1] ("{prefix:limit:<name>}"),
-- which admits at most ARGV[2] unexpired leases at once. ARGV: want, limit, items, item_ttl_ms,
-- token prefix (unique to the caller). The caller shares `items` units of work among the leases
-- it gets, so each lease lives item_ttl_ms for each unit it covers (items / taken, rounded up)
-- unless released first; the leases of a process that died free themselves. Returns the tokens
-- taken, none when the limit is reached.
local want, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local items, item_ttl, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local set = k('leases')
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
local n = math.min(want, limit - redis.call('ZCARD', set))
if n <= 0 then return {} end
local ttl = item_ttl * math.ceil(math.max(items, 1) / n)
local taken = {}
for i = 1, n do
  local token = prefix .. ':' .. i
  redis.call('ZADD', set, now + ttl, token)
  taken[#taken + 1] = token
end
-- The set outlives its longest lease and no more, so an idle limit leaves nothing behind.
if redis.call('PTTL', set) < ttl then
  redis.call('PEXPIRE', set, ttl)
end
return taken
