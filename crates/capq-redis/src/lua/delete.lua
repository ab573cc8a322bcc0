-- Deletes jobs everywhere: their hash, results and dependency sets, and their entries in the
-- queue and every registry of their queue.
--
-- ARGV[1..12] = key prefixes, ARGV[13..] = job ids. Returns the number of jobs deleted.
local P_JOB, P_RESULTS, P_STARTED, P_FINISHED, P_FAILED, P_DEFERRED, P_SCHEDULED, P_QUEUE,
  S_DEPENDENTS, P_DEPENDENCIES = unpack(ARGV, 1, 10)
local deleted = 0
for i = 13, #ARGV do
  local id = ARGV[i]
  local key = P_JOB .. id
  local origin = redis.call('HGET', key, 'origin')
  if origin then
    redis.call('LREM', P_QUEUE .. origin, 0, id)
    for _, registry in ipairs({P_FINISHED, P_FAILED, P_DEFERRED, P_SCHEDULED, ARGV[12]}) do
      redis.call('ZREM', registry .. origin, id)
    end
    -- Started entries are "<id>:<execution>"; a running job's worker will find its lease gone.
    for _, member in ipairs(redis.call('ZRANGE', P_STARTED .. origin, 0, -1)) do
      if string.sub(member, 1, #id + 1) == id .. ':' then redis.call('ZREM', P_STARTED .. origin, member) end
    end
    deleted = deleted + 1
  end
  redis.call('DEL', key, P_RESULTS .. id, key .. S_DEPENDENTS, P_DEPENDENCIES .. id .. ':dependencies')
end
return deleted
