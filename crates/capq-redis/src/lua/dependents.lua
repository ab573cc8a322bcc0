-- Releasing the dependents of a job that ended, as RQ 2.12 does (`Queue.enqueue_dependents`,
-- `Job.dependencies_are_met`). Not a script of its own: `scripts.rs` puts this function in
-- front of every script that ends jobs (`finish.lua`, and `maintain.lua` for jobs abandoned for
-- good), so both apply the one rule. It reads the key prefixes every script gets as ARGV[1..12].
--
-- When job `id` ends with `outcome` ('finished', 'failed' or 'stopped'), each of its dependents
-- (`rq:job:<id>:dependents`) that is still `deferred` is queued once all its parents are done:
-- - a parent is done when it finished, or when it failed and the dependent allows failures
--   (`allow_dependency_failures` = 1, RQ's `Dependency(..., allow_failure=True)`);
-- - a parent whose record is gone counts as done (RQ's reading: finished jobs expire);
-- - a stopped or canceled parent is never done, so it never releases anything (RQ's rule: the
--   operator stopped that line of work); requeueing it and letting it end releases them.
-- Checking `deferred` makes the release happen once, however many parents end at the same time
-- and however often one is requeued and ends again. A released dependent leaves the parent's
-- set; the set then expires with the parent (`ttl`: seconds, -1 for never, 0 to delete it now,
-- as RQ deletes everything of a job kept for 0 seconds).
local function release_dependents(id, outcome, ttl, stamp)
  local P_JOB, P_DEFERRED, P_QUEUE = ARGV[1], ARGV[6], ARGV[8]
  local S_DEPENDENTS, P_DEPENDENCIES, K_QUEUES = ARGV[9], ARGV[10], ARGV[11]
  local dependents_key = P_JOB .. id .. S_DEPENDENTS
  if outcome ~= 'stopped' then
    for _, dependent in ipairs(redis.call('SMEMBERS', dependents_key)) do
      local key = P_JOB .. dependent
      local status, origin, allow, front = unpack(redis.call('HMGET', key, 'status', 'origin',
        'allow_dependency_failures', 'enqueue_at_front'))
      local allowed = allow == '1'
      local ready = status == 'deferred' and origin and (outcome == 'finished' or allowed)
      if ready then
        for _, parent in ipairs(redis.call('SMEMBERS', P_DEPENDENCIES .. dependent .. ':dependencies')) do
          if parent ~= id then
            local parent_status = redis.call('HGET', P_JOB .. parent, 'status')
            if not (parent_status == false or parent_status == 'finished'
                or (allowed and parent_status == 'failed')) then
              ready = false
              break
            end
          end
        end
      end
      if ready then
        redis.call('ZREM', P_DEFERRED .. origin, dependent)
        redis.call('HSET', key, 'status', 'queued', 'enqueued_at', stamp)
        redis.call('SADD', K_QUEUES, P_QUEUE .. origin)
        if front == '1' then
          redis.call('LPUSH', P_QUEUE .. origin, dependent)
        else
          redis.call('RPUSH', P_QUEUE .. origin, dependent)
        end
        redis.call('SREM', dependents_key, dependent)
      end
    end
  end
  if ttl == 0 then
    redis.call('DEL', dependents_key)
  elseif ttl > 0 then
    redis.call('EXPIRE', dependents_key, ttl)
  else
    redis.call('PERSIST', dependents_key)
  end
end
