-- Finish a job successfully. ARGV: id, attempt, result, retention_ms, retention_count.
-- Returns 1, or 0 when the caller no longer owns the job (its lease expired and it moved on).
local id, attempt, result = ARGV[1], ARGV[2], ARGV[3]
if not owns(id, attempt) then return 0 end
local now = now_ms()
redis.call('ZREM', k('leased'), id)
redis.call('HSET', jk(id), 'status', 'done', 'finished_at', now, 'result', result)
redis.call('ZADD', k('done'), now, id)
release_unique(id)
redis.call('HINCRBY', k('stats'), 'processed', 1)
count_minute(now, 'processed', 1)
trim('done', now - tonumber(ARGV[4]), tonumber(ARGV[5]))
return 1
