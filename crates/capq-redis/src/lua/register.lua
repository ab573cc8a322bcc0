-- Records a worker's birth, as RQ's `register_birth` does; refuses a name that a live worker
-- holds (a record without a `death` field). A new worker waits for work, so it is `idle` (as an
-- RQ worker is once it listens on its queues), not `started`.
--
-- KEYS[1] = the worker's key, KEYS[2] = rq:workers, KEYS[3..] = rq:workers:<queue> per queue.
-- ARGV[1..12] = key prefixes, ARGV[13] = ttl (s), ARGV[14] = timestamp, ARGV[15] = queues
-- (comma-joined), ARGV[16] = pid, ARGV[17] = hostname, ARGV[18] = version, ARGV[19] = the set
-- of capq hand-off lists, ARGV[20] = this worker's hand-off list (listed there so that
-- maintenance can recover it if the worker dies).
-- Returns 1, or 0 when the name is taken.
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'death') == 0 then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'birth', ARGV[14], 'last_heartbeat', ARGV[14], 'queues', ARGV[15],
  'pid', ARGV[16], 'hostname', ARGV[17], 'ip_address', ARGV[17], 'version', ARGV[18],
  'python_version', 'capq (Rust)', 'state', 'idle', 'successful_job_count', 0,
  'failed_job_count', 0, 'total_working_time', 0)
redis.call('SADD', KEYS[2], KEYS[1])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[13])
redis.call('SADD', ARGV[19], ARGV[20])
return 1
