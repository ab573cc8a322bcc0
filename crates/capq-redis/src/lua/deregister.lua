-- Records a worker's death, as RQ's `register_death` does: out of the worker sets, with a
-- `death` time, and the record expires a minute later.
--
-- KEYS[1] = the worker's key, KEYS[2] = rq:workers, KEYS[3..] = rq:workers:<queue> per queue.
-- ARGV[1..12] = key prefixes, ARGV[13] = timestamp.
redis.call('SREM', KEYS[2], KEYS[1])
for i = 3, #KEYS do
  redis.call('SREM', KEYS[i], KEYS[1])
end
redis.call('HSET', KEYS[1], 'death', ARGV[13])
redis.call('HDEL', KEYS[1], 'current_job')
redis.call('EXPIRE', KEYS[1], 60)
return 1
