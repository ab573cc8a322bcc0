-- Puts failed (or stopped, or abandoned) jobs back on their queues, as RQ's
-- `FailedJobRegistry.requeue` does, and forgets how often their workers lost them.
--
-- ARGV[1..12] = key prefixes, ARGV[13] = timestamp, ARGV[14..] = job ids.
-- Returns the ids requeued; ids that are not failed jobs are skipped.
local P_JOB, P_FAILED, P_QUEUE, K_QUEUES = ARGV[1], ARGV[5], ARGV[8], ARGV[11]
local requeued = {}
for i = 14, #ARGV do
  local id = ARGV[i]
  local key = P_JOB .. id
  local status, origin = unpack(redis.call('HMGET', key, 'status', 'origin'))
  if origin and (status == 'failed' or status == 'stopped') and redis.call('ZREM', P_FAILED .. origin, id) == 1 then
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[13], 'started_at', '', 'ended_at', '',
      'worker_name', '', 'capq_recoveries', 0)
    redis.call('PERSIST', key)
    redis.call('SADD', K_QUEUES, P_QUEUE .. origin)
    redis.call('RPUSH', P_QUEUE .. origin, id)
    requeued[#requeued + 1] = id
  end
end
return requeued
