-- Extend the leases of jobs a live worker still holds. ARGV: lease_ms, then pairs of id, attempt.
-- Returns how many leases were renewed.
local now = now_ms()
local deadline = now + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV - 1, 2 do
  if owns(ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', k('leased'), 'XX', deadline, ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
