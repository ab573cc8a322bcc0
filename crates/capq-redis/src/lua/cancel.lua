-- Cancels jobs that no worker has taken yet, as RQ's `Job.cancel()` does: the status becomes
-- `canceled`, the job leaves its queue (or the deferred or scheduled registry) and enters the
-- canceled registry, scored with the time of cancelling. Its hash is kept, as RQ keeps it.
--
-- A queued job that is no longer in its queue list has been claimed by a worker that will run
-- it as soon as a slot frees (capq prefetches); marking it canceled would not stop it, so it is
-- refused as 'claimed'.
--
-- ARGV[1..12] = key prefixes, ARGV[13] = now (epoch s), ARGV[14..] = job ids.
-- Returns one code per id: 'canceled', 'missing', 'claimed', or the status of a job that is
-- not waiting (such as 'started').
local P_JOB, P_DEFERRED, P_SCHEDULED, P_QUEUE, P_CANCELED = ARGV[1], ARGV[6], ARGV[7], ARGV[8], ARGV[12]
local now = ARGV[13]
local outcomes = {}
for i = 14, #ARGV do
  local id = ARGV[i]
  local key = P_JOB .. id
  local status, origin = unpack(redis.call('HMGET', key, 'status', 'origin'))
  local outcome
  if not status or not origin then
    outcome = 'missing'
  elseif status == 'queued' then
    outcome = redis.call('LREM', P_QUEUE .. origin, 0, id) > 0 and 'canceled' or 'claimed'
  elseif status == 'deferred' then
    redis.call('ZREM', P_DEFERRED .. origin, id)
    outcome = 'canceled'
  elseif status == 'scheduled' then
    redis.call('ZREM', P_SCHEDULED .. origin, id)
    outcome = 'canceled'
  else
    outcome = status
  end
  if outcome == 'canceled' then
    redis.call('HSET', key, 'status', 'canceled')
    redis.call('ZADD', P_CANCELED .. origin, now, id)
  end
  outcomes[#outcomes + 1] = outcome
end
return outcomes
