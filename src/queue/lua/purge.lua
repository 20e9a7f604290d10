-- Delete dead letters. ARGV[1]: 'one' with the job id in ARGV[2], or 'all' to take up to
-- ARGV[2] of them (the caller repeats until 0). Returns how many were deleted.
local ids
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGE', k('dead'), 0, tonumber(ARGV[2]) - 1)
else
  if redis.call('ZSCORE', k('dead'), ARGV[2]) then ids = {ARGV[2]} else ids = {} end
end
for _, id in ipairs(ids) do
  redis.call('ZREM', k('dead'), id)
  redis.call('DEL', jk(id))
end
return #ids
