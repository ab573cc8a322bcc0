-- Claims the jobs a waiting worker just moved into its own hand-off list, and starts them
-- under a lease.
--
-- The worker sends `BLMOVE <queue> <hand-off list>` and this script in one pipeline. Redis runs
-- the script the moment the BLMOVE returns, in the same wake-up, so an idle worker gets its
-- job with one round trip instead of two. Times come from the server's clock, since the
-- script was sent before the job arrived. If the worker dies first, Redis drops its blocked
-- BLMOVE and nothing moves; a job left in a hand-off list is claimed by that worker's next
-- wait, or recovered by maintenance.
--
-- The call is recorded as claim.lua's are (claim_replay.lua, loaded in front of this script):
-- sent again, alone, after the worker lost the answer, it answers what it took the first time
-- (and a late first run finds the record and takes nothing; what its BLMOVE moved stays in the
-- hand-off list for the next wait).
--
-- KEYS[1] = the hand-off list, KEYS[2] = the started registry, KEYS[3] = the worker's claim
-- record.
-- ARGV[1..12] = key prefixes, ARGV[13] = lease (s), ARGV[14] = worker name,
-- ARGV[15] = execution id stem, ARGV[16] = queue name, ARGV[17] = how long the record lives (s).
-- Returns a list of {queue name, job id, execution id, hash fields} (empty if nothing came).
local P_JOB, P_STARTED = ARGV[1], ARGV[3]
local lease, worker, stem, queue = tonumber(ARGV[13]), ARGV[14], ARGV[15], ARGV[16]

local replayed = replay_claim(KEYS[3], stem, P_JOB, P_STARTED)
if replayed then return replayed end

-- RQ's `%Y-%m-%dT%H:%M:%S.%fZ` from epoch seconds and microseconds (civil date from the day
-- number, in March-based years so the leap day comes last).
local function timestamp(seconds, micros)
  local days, of_day = math.floor(seconds / 86400), seconds % 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', year, month, day,
    math.floor(of_day / 3600), math.floor(of_day / 60) % 60, of_day % 60, micros)
end

local claimed, before = {}, {}
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  local fields = redis.call('HGETALL', P_JOB .. id)
  if #fields > 0 then
    local time = redis.call('TIME')
    local seconds = tonumber(time[1])
    local now = timestamp(seconds, tonumber(time[2]))
    local attempts, persist = 0, false
    for i = 1, #fields, 2 do
      local name, value = fields[i], fields[i + 1]
      if name == 'capq_attempts' then attempts = tonumber(value) or 0 end
      if (name == 'ttl' or name == 'ended_at') and value ~= '' and value ~= 'None' then persist = true end
    end
    local execution = stem .. (#claimed + 1)
    -- Rounded up, as lease_expiry in broker.rs: the lease lasts at least `lease` seconds.
    redis.call('ZADD', KEYS[2], seconds + lease + 1, id .. ':' .. execution)
    redis.call('HSET', P_JOB .. id, 'status', 'started', 'started_at', now, 'last_heartbeat', now,
      'worker_name', worker, 'capq_attempts', attempts + 1)
    if persist then redis.call('PERSIST', P_JOB .. id) end
    claimed[#claimed + 1] = {queue, id, execution, fields}
    before[#before + 1] = attempts
  end
end
record_claim(KEYS[3], stem, claimed, before, ARGV[17])
return claimed
