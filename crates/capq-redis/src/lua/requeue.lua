-- Puts failed (or stopped, or abandoned) jobs back on their queues, as RQ's
-- `FailedJobRegistry.requeue` does, and forgets how often their workers lost them.
--
-- A requeue of every failed job works from a snapshot taken when it began, and names for each
-- job the failure it is requeued for: its score in the failed registry and its `ended_at` then.
-- A job whose failure changed since (it was requeued by someone else and failed again) is left
-- alone, so a job that workers fail again while the requeue runs is not requeued twice.
--
-- ARGV[1..12] = key prefixes, ARGV[13] = timestamp, ARGV[14] = '1' when each job comes with its
-- failure, then the jobs: ids, or (id, score, ended_at) triples when ARGV[14] is '1'.
-- Returns the ids requeued; ids that are not failed jobs (or not with that failure) are skipped.
local P_JOB, P_FAILED, P_QUEUE, K_QUEUES = ARGV[1], ARGV[5], ARGV[8], ARGV[11]
local with_failure = ARGV[14] == '1'
local step = with_failure and 3 or 1

-- Scores are compared as numbers too: a client on RESP3 reads them as doubles and sends them
-- back formatted its own way ('1.5' for Redis's '1.5', 'inf' for 'inf', but not digit for digit).
local function same_score(current, expected)
  if not current then return false end
  if current == expected then return true end
  local a, b = tonumber(current), tonumber(expected)
  return a ~= nil and a == b
end

local requeued = {}
for i = 15, #ARGV, step do
  local id = ARGV[i]
  local key = P_JOB .. id
  local status, origin, ended_at = unpack(redis.call('HMGET', key, 'status', 'origin', 'ended_at'))
  local eligible = origin and (status == 'failed' or status == 'stopped')
  if eligible and with_failure then
    eligible = same_score(redis.call('ZSCORE', P_FAILED .. origin, id), ARGV[i + 1])
      and (ended_at or '') == ARGV[i + 2]
  end
  if eligible and redis.call('ZREM', P_FAILED .. origin, id) == 1 then
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[13], 'started_at', '', 'ended_at', '',
      'worker_name', '', 'capq_recoveries', 0)
    redis.call('PERSIST', key)
    redis.call('SADD', K_QUEUES, P_QUEUE .. origin)
    redis.call('RPUSH', P_QUEUE .. origin, id)
    requeued[#requeued + 1] = id
  end
end
return requeued
