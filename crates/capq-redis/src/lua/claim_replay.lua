-- Shared by claim.lua and claim_waited.lua, which it is put in front of when they are loaded:
-- the record of a claim call, so that a call sent again answers what the first one claimed.
--
-- A worker can give up on a claim that Redis has not run yet (a stall longer than the client's
-- timeout) and send it again, with the same call id (`stem`), while the first still waits in
-- the server. Whichever of the two runs first claims and records what it took; the other finds
-- the record and answers with those jobs, claiming nothing. So the worker adopts the jobs the
-- first run took instead of leaving them leased to no one until their lease runs out.
--
-- A record is {stem, then (queue, job id, execution id, runs before the claim) per job},
-- msgpack'd under the worker's claim-record key; a worker has one claim in flight at a time, so
-- one record per worker is enough. It lives as long as a lease.

-- The jobs the recorded run of call `stem` claimed that it still holds (their hash read now,
-- with `capq_attempts` as the first run read it), or nil when no run of that call is recorded.
local function replay_claim(record_key, stem, P_JOB, P_STARTED)
  local record = redis.call('GET', record_key)
  if not record then return nil end
  local r = cmsgpack.unpack(record)
  if r[1] ~= stem then return nil end
  local claimed = {}
  for i = 2, #r, 4 do
    local queue, id, execution, before = r[i], r[i + 1], r[i + 2], r[i + 3]
    if redis.call('ZSCORE', P_STARTED .. queue, id .. ':' .. execution) then
      local fields = redis.call('HGETALL', P_JOB .. id)
      for f = 1, #fields, 2 do
        if fields[f] == 'capq_attempts' then fields[f + 1] = tostring(before) end
      end
      claimed[#claimed + 1] = {queue, id, execution, fields}
    end
  end
  return claimed
end

-- Records what call `stem` claimed: `claimed` as the claim answers it, `before` the runs each
-- job had before.
local function record_claim(record_key, stem, claimed, before, ttl)
  local r = {stem}
  for i, job in ipairs(claimed) do
    r[#r + 1] = job[1]
    r[#r + 1] = job[2]
    r[#r + 1] = job[3]
    r[#r + 1] = before[i]
  end
  redis.call('SET', record_key, cmsgpack.pack(r), 'EX', ttl)
end
