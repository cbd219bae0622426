-- Create a queued task (or answer for an idempotency key, or say the store is full).
-- ARGV: 4 id, 5 type, 6 params, 7 priority, 8 delay_us, 9 timeout, 10 max_retries,
--       11 owner, 12 idempotency key, 13 fingerprint, 14 max tasks, 15 '1' when the
--       caller's replica has an idle worker waiting for work (no other needs waking)
local id, owner, idem, fp = ARGV[4], ARGV[11], ARGV[12], ARGV[13]
local key = task_key(id)
if idem ~= '' then
  local found = redis.call('GET', P .. ':idem:' .. owner .. ':' .. idem)
  if found then
    local sep = string.find(found, '|', 1, true)
    local earlier = string.sub(found, sep + 1)
    if earlier ~= id then
      if string.sub(found, 1, sep - 1) == fp then
        return {'replayed', earlier}
      end
      return {'reused', earlier}
    end
  end
end
-- The id is made by the client of this script, so a script run twice makes one task.
if redis.call('EXISTS', key) == 1 then
  local f = redis.call('HMGET', key, 'seq', 'created', 'run_at')
  return {'created', f[1], f[2], f[3]}
end
local now = now_us()
local full = redis.call('ZCARD', P .. ':idx:all') >= tonumber(ARGV[14])
if full then
  -- The sweeper removes what has expired; until it has run, make room here.
  prune(now, 100)
  full = redis.call('ZCARD', P .. ':idx:all') >= tonumber(ARGV[14])
end
if full then
  local first = redis.call('ZRANGE', P .. ':idx:expiry', 0, 0, 'WITHSCORES')
  local wait = 5000000
  if #first > 0 then
    wait = math.max(1000000, tonumber(first[2]) - now)
  end
  return {'full', int(wait)}
end
local seq = redis.call('INCR', P .. ':seq')
local run_at = now + tonumber(ARGV[8])
local record = {
  'id', id, 'type', ARGV[5], 'status', 'queued', 'params', ARGV[6],
  'created', int(now), 'run_at', int(run_at), 'started', '', 'finished', '', 'progress', '0',
  'result', '', 'etype', '', 'emsg', '', 'priority', ARGV[7], 'timeout', ARGV[9],
  'max_retries', ARGV[10], 'attempts', '0', 'owner', owner, 'seq', seq, 'lease', '',
  'idem', idem, 'fp', fp}
redis.call('HSET', key, unpack(record))
redis.call('ZADD', P .. ':idx:all', seq, id)
if owner ~= '' then
  redis.call('ZADD', P .. ':idx:own:' .. owner, seq, id)
end
move(id, owner, seq, nil, 'queued')
enqueue(id, ARGV[7], seq, run_at, now, ARGV[15] == '1')
if idem ~= '' then
  redis.call('SET', P .. ':idem:' .. owner .. ':' .. idem, fp .. '|' .. id)
end
publish('submitted', id, owner, record)
return {'created', int(seq), int(now), int(run_at)}
