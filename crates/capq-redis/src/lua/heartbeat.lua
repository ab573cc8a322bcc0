-- Renews a worker's record and the leases it holds.
--
-- KEYS[1] = the worker's key.
-- ARGV[1..12] = key prefixes, ARGV[13] = worker record ttl (s), ARGV[14] = timestamp,
-- ARGV[15] = new lease expiry (epoch s), ARGV[16] = the longest-running job ('' for none),
-- ARGV[17] = its working time (s), ARGV[18..] = (queue, member) pairs of the held leases.
-- The working time is written only if the record shows that job: the state and the current
-- job are finish.lua's to write, in the order the worker reports them.
-- Returns 1 if the worker's record exists (0: Redis lost it; the worker must register again),
-- then one 1 (still held) or 0 (lost: recovered by someone else) per lease.
local P_STARTED = ARGV[3]
local held = {redis.call('EXISTS', KEYS[1])}
for i = 18, #ARGV, 2 do
  local key, member = P_STARTED .. ARGV[i], ARGV[i + 1]
  if redis.call('ZSCORE', key, member) then
    redis.call('ZADD', key, 'XX', ARGV[15], member)
    held[#held + 1] = 1
  else
    held[#held + 1] = 0
  end
end
if held[1] == 1 then
  redis.call('HSET', KEYS[1], 'last_heartbeat', ARGV[14])
  if ARGV[16] ~= '' and redis.call('HGET', KEYS[1], 'current_job') == ARGV[16] then
    redis.call('HSET', KEYS[1], 'current_job_working_time', ARGV[17])
  end
  redis.call('EXPIRE', KEYS[1], ARGV[13])
end
return held
