-- Finish a batch of jobs successfully. ARGV: retention_ms, retention_count, then job ids.
-- Returns one flag per job: 1 finished, 0 when it was not leased any more (its lease expired and
-- the reaper put it back, so it will run again: at-least-once).
--
-- The lease itself is the proof of ownership: if it expired and another worker leased the job
-- again, this successful run still finishes it, and the other run's outcome is then ignored.
local now = now_ms()
local out = {}
local done = {}
local finished = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', k('leased'), id) == 1 then
    set_job(id, 'status', 'done', 'finished_at', now)
    done[2 * finished + 1] = now
    done[2 * finished + 2] = id
    finished = finished + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if finished > 0 then
  redis.call('ZADD', k('done'), unpack(done))
  redis.call('HINCRBY', k('stats'), 'processed', finished)
  count_minute(now, 'processed', finished)
  trim('done', now - tonumber(ARGV[1]), tonumber(ARGV[2]), finished + 100)
end
return out
