-- Empties a queue as RQ's `Queue.empty` does: the queued jobs are deleted, hash and results.
--
-- KEYS[1] = the queue list. ARGV[1..12] = key prefixes. Returns the number of jobs removed.
local P_JOB, P_RESULTS = ARGV[1], ARGV[2]
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  redis.call('DEL', P_JOB .. id, P_RESULTS .. id)
end
redis.call('DEL', KEYS[1])
return #ids
