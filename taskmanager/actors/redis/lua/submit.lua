-- Create queued tasks (or answer for an idempotency key, or say the store is full): the
-- submissions a replica has at hand, each answered as if it had come alone.
-- ARGV: 4 how many, then 19 values for each: 1 id, 2 type, 3 params, 4 priority,
--       5 delay_us, 6 timeout, 7 max_retries, 8 owner, 9 idempotency key, 10 fingerprint,
--       11 max tasks, 12 '1' when the caller's replica has an idle worker waiting for work
--       (no other needs waking), 13 the ids it depends on (comma separated, each once),
--       14 the viewer they must be visible to ('' for every task), 15 result TTL µs,
--       16 the client whose rate limit counts the submission ('' when the caller counted
--       it already), 17 its limit, 18 its window µs, 19 the request's name
-- With a client, every answer ends with the requests in the window and the µs until the
-- oldest leaves it; over the limit the answer is {'limited', those two} alone.
-- Counted first, in the same step: a submission over the limit creates nothing and is
-- not counted, whatever else it would have been answered.
local WIDTH = 19

local function submit_one(a)
  local rate, fresh
  if a[16] ~= '' then
    rate, fresh = sliding_window(a[16], tonumber(a[17]), tonumber(a[18]), a[19])
    if rate[1] == 0 then
      return {'limited'}, rate
    end
  end
  local id, owner, idem, fp, deps, viewer = a[1], a[8], a[9], a[10], a[13], a[14]
  local key = task_key(id)
  if idem ~= '' then
    local found = redis.call('GET', P .. ':idem:' .. owner .. ':' .. idem)
    if found then
      local sep = string.find(found, '|', 1, true)
      local earlier = string.sub(found, sep + 1)
      if earlier ~= id then
        if string.sub(found, 1, sep - 1) == fp then
          return {'replayed', earlier}, rate
        end
        return {'reused', earlier}, rate
      end
    end
  end
  -- The id is made by the client of this script, so a script run twice makes one task. A
  -- submission new to its rate window is a first run: only another one needs the look.
  if not fresh and redis.call('EXISTS', key) == 1 then
    if deps ~= '' then
      return {'record', redis.call('HGETALL', key)}, rate
    end
    local f = redis.call('HMGET', key, 'seq', 'created', 'run_at')
    return {'created', f[1], f[2], f[3] or f[2]}, rate
  end
  local now = now_us()
  local wait = full(now, a[11])
  if wait then
    return {'full', int(wait)}, rate
  end
  -- The tasks it depends on: each must be there for the viewer; the unfinished ones are
  -- waited for, and one that failed or was cancelled cancels this one at once.
  local waiting, failed = {}, nil
  for dependency in string.gmatch(deps, '[^,]+') do
    local f = redis.call('HMGET', task_key(dependency), 'status', 'owner')
    if not f[1] or (viewer ~= '' and f[2] ~= viewer) then
      return {'unknown', dependency}, rate
    end
    if f[1] == 'queued' or f[1] == 'processing' then
      waiting[#waiting + 1] = dependency
    elseif f[1] ~= 'completed' and not failed then
      failed = {dependency, f[1]}
    end
  end
  local waitf = table.concat(waiting, ',')
  local seq, run_at = create_task(id, {
    type = a[2], params = a[3], priority = a[4], delay_us = a[5],
    timeout = a[6], max_retries = a[7], owner = owner, idem = idem, fp = fp,
    deps = deps, waitf = waitf, hold = failed ~= nil,
  }, now, a[12] == '1')
  if idem ~= '' then
    redis.call('SET', P .. ':idem:' .. owner .. ':' .. idem, fp .. '|' .. id)
  end
  if failed then
    cancel_for(id, key, owner, seq, nil, waitf, failed[1], failed[2], now, tonumber(a[15]))
  end
  if deps ~= '' then
    return {'record', redis.call('HGETALL', key)}, rate
  end
  return {'created', int(seq), int(now), int(run_at)}, rate
end

local count = tonumber(ARGV[4])
-- A sequence number for each: one command, not one a task (one left unused is a gap in
-- the order, which no reader minds).
reserve_seqs(count)
local replies, rates = {}, {}
for i = 1, count do
  local base = 4 + (i - 1) * WIDTH
  replies[i], rates[i] = submit_one({unpack(ARGV, base + 1, base + WIDTH)})
end
close() -- the rate replies whole
for i = 1, count do
  local rate = rates[i]
  if rate then
    replies[i][#replies[i] + 1] = rate[2]
    replies[i][#replies[i] + 1] = rate[3]
  end
end
return replies
