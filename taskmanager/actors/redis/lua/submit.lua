-- Create a queued task (or answer for an idempotency key, or say the store is full).
-- ARGV: 4 id, 5 type, 6 params, 7 priority, 8 delay_us, 9 timeout, 10 max_retries,
--       11 owner, 12 idempotency key, 13 fingerprint, 14 max tasks, 15 '1' when the
--       caller's replica has an idle worker waiting for work (no other needs waking),
--       16 the ids it depends on (comma separated, each once), 17 the viewer they must
--       be visible to ('' for every task), 18 result TTL µs (16 to 18 may be left out
--       when there are none), 19 the client whose rate limit counts the submission,
--       20 its limit, 21 its window µs, 22 the request's name (19 to 22 left out when
--       the caller counted it already)
-- With 19 to 22, every answer ends with the requests in the window and the µs until
-- the oldest leaves it; over the limit the answer is {'limited', those two} alone.
-- Counted first, in the same step: a submission over the limit creates nothing and is
-- not counted, whatever else it would have been answered.
local rate, fresh
if ARGV[19] then
  rate, fresh = sliding_window(ARGV[19], tonumber(ARGV[20]), tonumber(ARGV[21]), ARGV[22])
end
if rate and rate[1] == 0 then
  return {'limited', rate[2], rate[3]}
end
local function rated(reply)
  if rate then
    reply[#reply + 1] = rate[2]
    reply[#reply + 1] = rate[3]
  end
  return reply
end
local id, owner, idem, fp = ARGV[4], ARGV[11], ARGV[12], ARGV[13]
local deps, viewer = ARGV[16] or '', ARGV[17] or ''
local key = task_key(id)
if idem ~= '' then
  local found = redis.call('GET', P .. ':idem:' .. owner .. ':' .. idem)
  if found then
    local sep = string.find(found, '|', 1, true)
    local earlier = string.sub(found, sep + 1)
    if earlier ~= id then
      if string.sub(found, 1, sep - 1) == fp then
        return rated{'replayed', earlier}
      end
      return rated{'reused', earlier}
    end
  end
end
-- The id is made by the client of this script, so a script run twice makes one task. A
-- submission new to its rate window is a first run: only another one needs the look.
if not fresh and redis.call('EXISTS', key) == 1 then
  if deps ~= '' then
    return rated{'record', redis.call('HGETALL', key)}
  end
  local f = redis.call('HMGET', key, 'seq', 'created', 'run_at')
  return rated{'created', f[1], f[2], f[3] or f[2]}
end
local now = now_us()
local wait = full(now, ARGV[14])
if wait then
  return rated{'full', int(wait)}
end
-- The tasks it depends on: each must be there for the viewer; the unfinished ones are
-- waited for, and one that failed or was cancelled cancels this one at once.
local waiting, failed = {}, nil
for dependency in string.gmatch(deps, '[^,]+') do
  local f = redis.call('HMGET', task_key(dependency), 'status', 'owner')
  if not f[1] or (viewer ~= '' and f[2] ~= viewer) then
    return rated{'unknown', dependency}
  end
  if f[1] == 'queued' or f[1] == 'processing' then
    waiting[#waiting + 1] = dependency
  elseif f[1] ~= 'completed' and not failed then
    failed = {dependency, f[1]}
  end
end
local waitf = table.concat(waiting, ',')
local seq, run_at = create_task(id, {
  type = ARGV[5], params = ARGV[6], priority = ARGV[7], delay_us = ARGV[8],
  timeout = ARGV[9], max_retries = ARGV[10], owner = owner, idem = idem, fp = fp,
  deps = deps, waitf = waitf, hold = failed ~= nil,
}, now, ARGV[15] == '1')
if idem ~= '' then
  redis.call('SET', P .. ':idem:' .. owner .. ':' .. idem, fp .. '|' .. id)
end
if failed then
  cancel_for(id, key, owner, seq, nil, waitf, failed[1], failed[2], now, tonumber(ARGV[18]))
end
if deps ~= '' then
  return rated{'record', redis.call('HGETALL', key)}
end
return rated{'created', int(seq), int(now), int(run_at)}
