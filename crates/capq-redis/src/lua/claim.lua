-- Claims up to ARGV[13] queued jobs, earlier queues first, each under a lease.
--
-- One atomic step per job: pop it, read its hash, and record it in the started registry with
-- the lease expiry as score. A worker that dies after this holds nothing that a lease expiry
-- cannot recover; no intermediate list is needed. The first ARGV[14] jobs are marked started
-- at once (they have a free slot); the others stay `queued` until the worker reports them
-- started (finish.lua), so no job looks started before it runs. The worker's own record is
-- left to finish.lua, which the worker calls in order with what it runs.
--
-- The call is recorded (claim_replay.lua, loaded in front of this script): the same call sent
-- again answers what this one took, and claims nothing more.
--
-- KEYS[1] = rq:suspended, KEYS[2] = the worker's claim record,
-- KEYS[3..] = (queue list, started registry) for each queue, in priority order.
-- ARGV[1..12] = key prefixes (keys.rs), ARGV[13] = max jobs, ARGV[14] = jobs to start now,
-- ARGV[15] = lease expiry (epoch s), ARGV[16] = timestamp, ARGV[17] = worker name,
-- ARGV[18] = the call's execution id stem, ARGV[19] = how long the record lives (s),
-- ARGV[20..] = queue names, one per (queue, registry) pair.
-- Returns {'suspended'} or a list of {queue name, job id, execution id, hash fields}.
local P_JOB, P_STARTED = ARGV[1], ARGV[3]
local max, start_now = tonumber(ARGV[13]), tonumber(ARGV[14])
local expiry, now, worker, stem, record_ttl = ARGV[15], ARGV[16], ARGV[17], ARGV[18], ARGV[19]

local replayed = replay_claim(KEYS[2], stem, P_JOB, P_STARTED)
if replayed then return replayed end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'suspended'}
end
local claimed, before = {}, {}
for q = 3, #KEYS, 2 do
  local queue_key, started_key = KEYS[q], KEYS[q + 1]
  local queue_name = ARGV[20 + (q - 3) / 2]
  while #claimed < max do
    local id = redis.call('LPOP', queue_key)
    if not id then break end
    local job_key = P_JOB .. id
    local fields = redis.call('HGETALL', job_key)
    -- A job whose hash is gone (deleted, expired) is skipped, as RQ does.
    if #fields > 0 then
      local attempts, persist = 0, false
      for i = 1, #fields, 2 do
        local name, value = fields[i], fields[i + 1]
        if name == 'capq_attempts' then attempts = tonumber(value) or 0 end
        -- A job that carries an expiry (its own ttl, or one left from an earlier run) must
        -- not vanish while it runs.
        if (name == 'ttl' or name == 'ended_at') and value ~= '' and value ~= 'None' then persist = true end
      end
      local execution = stem .. (#claimed + 1)
      redis.call('ZADD', started_key, expiry, id .. ':' .. execution)
      if #claimed < start_now then
        redis.call('HSET', job_key, 'status', 'started', 'started_at', now, 'last_heartbeat', now,
          'worker_name', worker, 'capq_attempts', attempts + 1)
      end
      if persist then redis.call('PERSIST', job_key) end
      claimed[#claimed + 1] = {queue_name, id, execution, fields}
      before[#before + 1] = attempts
    end
  end
  if #claimed >= max then break end
end
record_claim(KEYS[2], stem, claimed, before, record_ttl)
return claimed
