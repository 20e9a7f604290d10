-- Take up to ARGV[1] leases of the limit whose base key is KEYS[1] ("{prefix:limit:<name>}"),
-- which admits at most ARGV[2] unexpired leases at once. ARGV: want, limit, ttl_ms, token
-- prefix (unique to the caller). A lease expires ttl_ms after it is taken unless released
-- first, so the leases of a process that died free themselves. Returns the tokens taken,
-- none when the limit is reached.
local want, limit, ttl, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local set = k('leases')
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
local n = math.min(want, limit - redis.call('ZCARD', set))
local taken = {}
for i = 1, n do
  local token = prefix .. ':' .. i
  redis.call('ZADD', set, now + ttl, token)
  taken[#taken + 1] = token
end
-- The set outlives its longest lease and no more, so an idle limit leaves nothing behind.
if n > 0 and redis.call('PTTL', set) < ttl then
  redis.call('PEXPIRE', set, ttl)
end
return taken
