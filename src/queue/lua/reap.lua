-- Move due scheduled jobs to the ready list and take back expired leases, without leasing any:
-- every worker process runs this on a timer, so a job is rescued (or falls due) on time even
-- while every worker is busy and nobody fetches. ARGV[1]: most jobs of each kind moved per call.
-- Returns how many jobs became ready.
local ready = promote(now_ms(), tonumber(ARGV[1]))
if ready > 0 and redis.call('EXISTS', k('paused')) == 0 then wake(math.min(ready, 8)) end
return ready
