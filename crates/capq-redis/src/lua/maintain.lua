-- One queue's upkeep, run every few seconds by some live capq worker under RQ's own
-- maintenance lock (so RQ workers, which take the same lock, do not clean up at the same time):
--
-- 1. Leases that ran out (their worker was killed, lost its node or its network) put the job
--    back at the front of its queue, counting a recovery; after too many recoveries the job
--    fails with "abandoned by its worker N times". RQ would fail it at once and never run it
--    again; capq delivers at least once.
-- 2. Jobs stranded in the queue's intermediate list (a worker died between popping and
--    starting one) or in a dead capq worker's hand-off list go back to the queue the same way.
-- 3. Finished and failed entries past their expiry are dropped, and dead workers leave the
--    worker sets, as RQ's own cleanup does.
--
-- KEYS[1] = lock, KEYS[2] = queue, KEYS[3] = started registry, KEYS[4] = finished, KEYS[5] =
-- failed, KEYS[6] = intermediate list, KEYS[7] = rq:workers:<queue>, KEYS[8] = rq:workers,
-- KEYS[9] = the set of capq hand-off lists.
-- ARGV[1..12] = key prefixes, ARGV[13] = lock holder, ARGV[14] = now (epoch s), ARGV[15] =
-- timestamp, ARGV[16] = max recoveries, ARGV[17] = default failure ttl (s), ARGV[18] = seconds
-- after which an intermediate entry counts as stranded, ARGV[19] = queue name, ARGV[20] = the
-- worker key prefix, ARGV[21] = the hand-off key prefix, ARGV[22..] = the messages (below).
-- Returns {recovered, failed as abandoned, stranded requeued, dead workers removed}, or
-- {-1} when another process holds the lock.
local P_JOB, P_RESULTS = ARGV[1], ARGV[2]
local holder, now, stamp = ARGV[13], tonumber(ARGV[14]), ARGV[15]
local max_recoveries, default_failure_ttl = tonumber(ARGV[16]), tonumber(ARGV[17])
local stranded_after, queue_name = tonumber(ARGV[18]), ARGV[19]
local P_WORKER, P_HANDOFF = ARGV[20], ARGV[21]

if not redis.call('SET', KEYS[1], holder, 'NX', 'EX', 60) then
  return {-1}
end

local recovered, abandoned, stranded, dead = 0, 0, 0, 0

-- Puts a job whose worker vanished back first in line, or fails it for good once it has been
-- abandoned more than `max_recoveries` times. Messages arrive ready-made (RQ stores error text
-- zlib'd and base64'd, which Lua cannot do): ARGV[22 + k - 1] says "recovery k", and
-- ARGV[22 + max_recoveries] says the job was abandoned for good.
local function recover(id)
  local key = P_JOB .. id
  local status, recoveries, failure_ttl = unpack(redis.call('HMGET', key, 'status', 'capq_recoveries', 'failure_ttl'))
  if not status then return end
  recoveries = (tonumber(recoveries) or 0) + 1
  local entry = {'worker_name', '', 'execution_id', '', 'execution_started_at', now, 'execution_ended_at', now}
  if recoveries > max_recoveries then
    local ttl = tonumber(failure_ttl) or default_failure_ttl
    redis.call('HSET', key, 'status', 'failed', 'ended_at', stamp)
    for _, v in ipairs({'type', '2', 'exc_string', ARGV[22 + max_recoveries]}) do entry[#entry + 1] = v end
    redis.call('XADD', P_RESULTS .. id, 'MAXLEN', '~', '10', '*', unpack(entry))
    redis.call('ZADD', KEYS[5], ttl > 0 and now + ttl or '+inf', id)
    if ttl > 0 then
      redis.call('EXPIRE', key, ttl)
      redis.call('EXPIRE', P_RESULTS .. id, ttl)
    end
    -- Failed for good, like any failure: dependents that allow failures go on (dependents.lua).
    release_dependents(id, 'failed', ttl, stamp)
    abandoned = abandoned + 1
  else
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', stamp, 'capq_recoveries', recoveries)
    for _, v in ipairs({'type', '4', 'exc_string', ARGV[22 + recoveries - 1]}) do entry[#entry + 1] = v end
    redis.call('XADD', P_RESULTS .. id, 'MAXLEN', '~', '10', '*', unpack(entry))
    redis.call('LPUSH', KEYS[2], id)
    recovered = recovered + 1
  end
end

-- 1. Expired leases. Members are "<job id>:<execution id>".
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], 0, now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', KEYS[3], member)
  local id = string.match(member, '^(.*):[^:]*$') or member
  recover(id)
end

-- 2a. The intermediate list: an entry seen on two passes far enough apart is stranded.
for _, id in ipairs(redis.call('LRANGE', KEYS[6], 0, 999)) do
  local seen_key = KEYS[6] .. ':first_seen:' .. id
  local seen = tonumber(redis.call('GET', seen_key))
  if not seen then
    redis.call('SET', seen_key, now, 'EX', 86400)
  elseif now - seen >= stranded_after and redis.call('HGET', P_JOB .. id, 'status') ~= 'started' then
    redis.call('LREM', KEYS[6], 1, id)
    redis.call('DEL', seen_key)
    -- Never started, so it is not a recovery: straight back to the front.
    redis.call('HSET', P_JOB .. id, 'status', 'queued', 'enqueued_at', stamp)
    redis.call('LPUSH', KEYS[2], id)
    stranded = stranded + 1
  end
end

-- 2b. Hand-off lists of capq workers whose record has expired.
for _, handoff in ipairs(redis.call('SMEMBERS', KEYS[9])) do
  local worker = string.sub(handoff, #P_HANDOFF + 1)
  if redis.call('EXISTS', P_WORKER .. worker) == 0 then
    while true do
      local id = redis.call('RPOP', handoff)
      if not id then break end
      local origin = redis.call('HGET', P_JOB .. id, 'origin')
      if origin == queue_name then
        redis.call('LPUSH', KEYS[2], id)
        stranded = stranded + 1
      elseif origin then
        redis.call('LPUSH', ARGV[8] .. origin, id)
      end
    end
    redis.call('SREM', KEYS[9], handoff)
  end
end

-- 3. Expired entries and dead workers.
redis.call('ZREMRANGEBYSCORE', KEYS[4], 0, now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], 0, now)
for _, worker_key in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  if redis.call('EXISTS', worker_key) == 0 then
    redis.call('SREM', KEYS[7], worker_key)
    redis.call('SREM', KEYS[8], worker_key)
    dead = dead + 1
  end
end

if redis.call('GET', KEYS[1]) == holder then redis.call('DEL', KEYS[1]) end
return {recovered, abandoned, stranded, dead}
