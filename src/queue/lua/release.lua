-- Hand fetched but unstarted jobs back at shutdown, at the head of the ready list and without
-- counting the attempt. ARGV: pairs of id, attempt. Returns how many were handed back.
local released = 0
for i = #ARGV - 1, 1, -2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  if owns(id, attempt) then
    redis.call('ZREM', k('leased'), id)
    set_job(id, 'status', 'ready', 'attempt', tonumber(attempt) - 1)
    push_ready_one(id, true)
    released = released + 1
  end
end
if released > 0 then wake(1) end
return released
