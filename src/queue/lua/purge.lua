-- Delete jobs from the dead letters or the scheduled set. ARGV[1]: the set, 'dead' or
-- 'scheduled'. ARGV[2]: 'one' with the job id in ARGV[3], or 'all' to take up to ARGV[3] of them
-- (the caller repeats until 0). Returns how many were deleted.
local set = ARGV[1]
local ids
if ARGV[2] == 'all' then
  ids = redis.call('ZRANGE', k(set), 0, tonumber(ARGV[3]) - 1)
else
  if redis.call('ZSCORE', k(set), ARGV[3]) then ids = {ARGV[3]} else ids = {} end
end
for _, id in ipairs(ids) do
  redis.call('ZREM', k(set), id)
  redis.call('DEL', jk(id))
end
return #ids
