-- Records how a batch of attempts ended: results, registries, expiries, retries, dependents
-- and the worker's counters, all in one atomic step.
--
-- An attempt is recorded only if its lease is still in the started registry. A worker that lost
-- its lease (it could not reach Redis for longer than the lease, and the job was recovered and
-- may have run elsewhere) writes nothing, so a job is never recorded finished twice.
--
-- Jobs that started running since the last call (prefetched jobs that waited for a slot) are
-- marked started first.
--
-- The worker's record then shows what the worker says it runs now: busy with that job, or idle
-- with no current job. Only this script writes the worker's state, and one worker calls it one
-- call at a time, so the record shows the worker's latest word (a claim never races it).
--
-- A call the worker sent again after a timeout (the first may run late, in a stalled server)
-- carries the same call id: the run that comes second answers what the first recorded and
-- writes nothing, so no ending is refused as "lease lost" for having been recorded already.
--
-- The batch (RQ group) of each job counts its finished and failed jobs, and the fleet-wide
-- statistics (totals, per-minute counts, run-time histogram) behind the dashboard and /metrics
-- are updated once per call.
--
-- KEYS[1] = the worker's key, KEYS[2] = capq:stats:totals, KEYS[3] = this minute's counts,
-- KEYS[4] = the run-time histogram, KEYS[5] = the worker's record of its last call.
-- ARGV[1..12] = key prefixes, ARGV[13] = now (epoch s), ARGV[14] = timestamp,
-- ARGV[15] = worker name, ARGV[16] = the job the worker runs now ('' for none: idle),
-- ARGV[17] = working time (s), ARGV[18] = the call id, ARGV[19] = how long its record lives (s),
-- ARGV[20] = number of starts, then 3 values per start: job id, start timestamp, attempt;
-- then the number of attempts that ended, and 14 values per attempt: kind (finished, failed, stopped,
-- retry, requeue), job id, queue, execution id, result ttl, failure ttl, has dependencies
-- ('1'/'0'), payload (base64 result, or base64 of zlib'd error text), retry delay (s), retries
-- left, execution start and end (epoch s), the end as a timestamp, and the key of the job's batch
-- ('' for none); then the number of histogram buckets touched, (bucket, count) pairs, and the summed
-- run time (s).
-- Returns one 1 (recorded) or 0 (lease lost) per attempt.
local P_JOB, P_RESULTS, P_STARTED, P_FINISHED, P_FAILED, _, P_SCHEDULED, P_QUEUE, _,
  P_DEPENDENCIES = unpack(ARGV, 1, 10)
local now, stamp, worker = tonumber(ARGV[13]), ARGV[14], ARGV[15]
local current, working_time, call, record_ttl = ARGV[16], ARGV[17], ARGV[18], ARGV[19]
local starts = tonumber(ARGV[20])
local first_end = 22 + starts * 3
local count = tonumber(ARGV[first_end - 1])

local record = redis.call('GET', KEYS[5])
if record then
  local previous = cmsgpack.unpack(record)
  if previous[1] == call then
    table.remove(previous, 1)
    return previous
  end
end

for i = 0, starts - 1 do
  local base = 21 + i * 3
  local started_at = ARGV[base + 1]
  redis.call('HSET', P_JOB .. ARGV[base], 'status', 'started', 'started_at', started_at,
    'last_heartbeat', started_at, 'worker_name', worker, 'capq_attempts', ARGV[base + 2])
end

-- Keeps a key for `ttl` seconds, forever for -1.
local function keep(key, ttl)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) elseif ttl < 0 then redis.call('PERSIST', key) end
end

-- Dependents are released by `release_dependents` (lua/dependents.lua, put in front of this
-- script): RQ's rule, including for failed parents when the dependent allows failures.

local recorded, succeeded, failed, final_failures = {}, 0, 0, 0
for i = 0, count - 1 do
  local base = first_end + i * 14
  local kind, id, queue, execution = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local result_ttl, failure_ttl = tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5])
  local has_dependencies, payload = ARGV[base + 6] == '1', ARGV[base + 7]
  local delay, retries_left = tonumber(ARGV[base + 8]), ARGV[base + 9]
  local started, ended, ended_stamp = ARGV[base + 10], ARGV[base + 11], ARGV[base + 12]
  local batch = ARGV[base + 13]
  local job_key, results_key = P_JOB .. id, P_RESULTS .. id

  if redis.call('ZREM', P_STARTED .. queue, id .. ':' .. execution) == 0 then
    recorded[#recorded + 1] = 0
  else
    recorded[#recorded + 1] = 1
    local entry = {'worker_name', worker, 'execution_id', execution,
      'execution_started_at', started, 'execution_ended_at', ended}
    if kind == 'finished' then
      succeeded = succeeded + 1
      if result_ttl == 0 then
        -- result_ttl=0: the result is not kept at all; its dependents still go on.
        release_dependents(id, 'finished', 0, stamp)
        redis.call('DEL', job_key, results_key, P_DEPENDENCIES .. id .. ':dependencies')
      else
        redis.call('HSET', job_key, 'status', 'finished', 'ended_at', ended_stamp, 'last_heartbeat', stamp)
        entry[#entry + 1] = 'type'
        entry[#entry + 1] = '1'
        if payload ~= '' then
          entry[#entry + 1] = 'return_value'
          entry[#entry + 1] = payload
        end
        redis.call('XADD', results_key, 'MAXLEN', '~', '10', '*', unpack(entry))
        keep(results_key, result_ttl)
        redis.call('ZADD', P_FINISHED .. queue, result_ttl > 0 and (now + result_ttl) or '+inf', id)
        keep(job_key, result_ttl)
        release_dependents(id, 'finished', result_ttl, stamp)
        if has_dependencies then keep(P_DEPENDENCIES .. id .. ':dependencies', result_ttl) end
      end
    elseif kind == 'failed' or kind == 'stopped' then
      failed = failed + 1
      final_failures = final_failures + 1
      redis.call('HSET', job_key, 'status', kind, 'ended_at', ended_stamp, 'last_heartbeat', stamp)
      entry[#entry + 1] = 'type'
      entry[#entry + 1] = '2'
      entry[#entry + 1] = 'exc_string'
      entry[#entry + 1] = payload
      redis.call('XADD', results_key, 'MAXLEN', '~', '10', '*', unpack(entry))
      keep(results_key, failure_ttl)
      redis.call('ZADD', P_FAILED .. queue, failure_ttl > 0 and (now + failure_ttl) or '+inf', id)
      keep(job_key, failure_ttl)
      release_dependents(id, kind, failure_ttl, stamp)
      if has_dependencies then keep(P_DEPENDENCIES .. id .. ':dependencies', failure_ttl) end
    elseif kind == 'retry' then
      failed = failed + 1
      entry[#entry + 1] = 'type'
      entry[#entry + 1] = '4'
      entry[#entry + 1] = 'exc_string'
      entry[#entry + 1] = payload
      redis.call('XADD', results_key, 'MAXLEN', '~', '10', '*', unpack(entry))
      if delay > 0 then
        redis.call('HSET', job_key, 'status', 'scheduled', 'retries_left', retries_left, 'ended_at', stamp)
        redis.call('ZADD', P_SCHEDULED .. queue, now + delay, id)
      else
        redis.call('HSET', job_key, 'status', 'queued', 'retries_left', retries_left, 'ended_at', stamp,
          'enqueued_at', stamp)
        if redis.call('HGET', job_key, 'enqueue_at_front_on_retry') == '1' then
          redis.call('LPUSH', P_QUEUE .. queue, id)
        else
          redis.call('RPUSH', P_QUEUE .. queue, id)
        end
      end
    else
      -- requeue: handed back unfinished (graceful shutdown); it goes first in line again.
      redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', stamp)
      redis.call('LPUSH', P_QUEUE .. queue, id)
    end
    -- The job's batch counts how many of its jobs ended, and how.
    if batch ~= '' and (kind == 'finished' or kind == 'failed' or kind == 'stopped') then
      redis.call('HINCRBY', batch, kind == 'finished' and 'finished' or 'failed', 1)
    end
  end
end

-- Fleet-wide statistics: totals, this minute's counts, and the run-time histogram.
if succeeded + final_failures > 0 then
  redis.call('HINCRBY', KEYS[2], 'finished', succeeded)
  redis.call('HINCRBY', KEYS[2], 'failed', final_failures)
  redis.call('HINCRBY', KEYS[3], 'finished', succeeded)
  redis.call('HINCRBY', KEYS[3], 'failed', final_failures)
  redis.call('EXPIRE', KEYS[3], 7200)
  local at = first_end + count * 14
  local buckets = tonumber(ARGV[at])
  for i = 1, buckets do
    redis.call('HINCRBY', KEYS[4], ARGV[at + 2 * i - 1], ARGV[at + 2 * i])
  end
  redis.call('HINCRBYFLOAT', KEYS[4], 'sum', ARGV[at + 2 * buckets + 1])
end

-- The worker's record, if it has one (a record Redis lost is made again by registering, not
-- here, so no half record appears): its counters, and what it runs now.
if redis.call('EXISTS', KEYS[1]) == 1 then
  if succeeded > 0 then redis.call('HINCRBY', KEYS[1], 'successful_job_count', succeeded) end
  if failed > 0 then redis.call('HINCRBY', KEYS[1], 'failed_job_count', failed) end
  if succeeded + failed > 0 then redis.call('HINCRBYFLOAT', KEYS[1], 'total_working_time', working_time) end
  if current == '' then
    redis.call('HSET', KEYS[1], 'state', 'idle', 'last_heartbeat', stamp)
    redis.call('HDEL', KEYS[1], 'current_job', 'current_job_working_time')
  else
    if redis.call('HGET', KEYS[1], 'current_job') ~= current then
      redis.call('HDEL', KEYS[1], 'current_job_working_time')
    end
    redis.call('HSET', KEYS[1], 'state', 'busy', 'current_job', current, 'last_heartbeat', stamp)
  end
end
local answer = {call}
for i, r in ipairs(recorded) do answer[i + 1] = r end
redis.call('SET', KEYS[5], cmsgpack.pack(answer), 'EX', record_ttl)
return recorded
