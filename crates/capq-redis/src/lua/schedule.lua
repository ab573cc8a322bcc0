-- Moves a queue's jobs whose time has come from `rq:scheduled:<queue>` to the queue: delayed
-- retries, and jobs enqueued with `enqueue_at`/`enqueue_in`. One mover at a time per queue,
-- under RQ's own scheduler lock, so a Python `rq worker --with-scheduler` and capq workers never
-- move the same job twice.
--
-- KEYS[1] = the scheduler lock, KEYS[2] = scheduled registry, KEYS[3] = queue.
-- ARGV[1..12] = key prefixes, ARGV[13] = lock holder, ARGV[14] = lock ttl (s), ARGV[15] = now
-- (epoch s, fractional), ARGV[16] = timestamp.
-- Returns {moved, score of the next scheduled job or -1}; {-1, -1} if another holds the lock.
local P_JOB = ARGV[1]
local holder, ttl, now, stamp = ARGV[13], tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16]

local owner = redis.call('GET', KEYS[1])
if owner and owner ~= holder then
  return {-1, -1}
end
redis.call('SET', KEYS[1], holder, 'EX', ttl)

local moved = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], 0, now, 'LIMIT', 0, 1000)) do
  local key = P_JOB .. id
  local status, front = unpack(redis.call('HMGET', key, 'status', 'enqueue_at_front'))
  if status then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', stamp)
    if front == '1' then
      redis.call('LPUSH', KEYS[3], id)
    else
      redis.call('RPUSH', KEYS[3], id)
    end
    moved = moved + 1
  elseif tonumber(redis.call('ZSCORE', KEYS[2], id)) < now - 60 then
    -- RQ writes the registry entry just before the job hash; an entry whose hash is still
    -- missing a minute later belongs to a deleted job.
    redis.call('ZREM', KEYS[2], id)
  end
end
local next_job = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {moved, next_job[2] or '-1'}
