-- Records one sample of queue depth for the dashboards' depth chart, so the chart survives a
-- dashboard restart and every dashboard on this Redis draws the same history. Samples live in a
-- sorted set scored by their time slot (the sample's time rounded down to the sampling
-- interval); a slot holds one sample, so several dashboards sampling at once add one, not many.
--
-- KEYS[1] = the depth set. ARGV[1] = slot (ms since the epoch), ARGV[2] = the member
-- ('<sampled at ms>:<queued>:<started>:<finished total>:<failed total>'), ARGV[3] = how long
-- samples are kept (ms).
-- Returns 1 if the sample was recorded, 0 if its slot already had one.
local key, slot, member, keep = KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if redis.call('ZCOUNT', key, slot, slot) > 0 then
  return 0
end
redis.call('ZADD', key, slot, member)
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (slot - keep))
redis.call('PEXPIRE', key, keep)
return 1
