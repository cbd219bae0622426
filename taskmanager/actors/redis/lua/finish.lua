-- The attempt holding the lease ended: completed, retried after a backoff, or failed.
-- A report under any other lease (an earlier attempt, a zombie) changes nothing.
-- ARGV: 4 id, 5 lease, 6 result JSON ('' when failed), 7 error type, 8 error message,
--       9 retry ('1' when the error may be retried), 10 backoff base µs,
--       11 result TTL µs, 12 jitter (0 to 0.1 of the backoff, the caller's random draw)
local id, lease, etype = ARGV[4], ARGV[5], ARGV[7]
local key = task_key(id)
local f = redis.call('HMGET', key, 'status', 'lease', 'owner', 'seq', 'attempts', 'max_retries',
  'w', 'dn', 'etype', 'created')
if f[1] ~= 'processing' or f[2] ~= lease then
  return false
end
local owner, seq = f[3] or '', f[4]
-- The lease goes, and the error of an attempt before. A finished record keeps its lease
-- field, empty: removing it would be a command more, for a few bytes.
local present = {lease = true, etype = f[9], emsg = f[9]}
local blank = {lease = true}
redis.call('SREM', P .. ':running:' .. replica_of(lease), id)
local now = now_us()
if etype == 'timeout' then
  redis.call('HINCRBY', P .. ':stats', 'timeouts', 1)
end
if etype == '' then
  local changed = {'status', 'completed', 'progress', '1', 'result', ARGV[6],
    'finished', int(now), 'lease', '', 'etype', '', 'emsg', ''}
  write(key, changed, present, blank)
  move(id, owner, seq, 'processing', 'completed')
  wake(id, key, f[7])
  ended(id, 'completed', now, tonumber(ARGV[11]))
  if owner ~= '' then
    -- A key's own completions per minute, for its /stats.
    local mine = P .. ':done:' .. math.floor(now / 60000000) .. ':' .. owner
    if redis.call('INCR', mine) == 1 then
      redis.call('EXPIRE', mine, 3600)
    end
  end
  publish('completed', id, owner, changed, f[10])
  if f[8] then
    follow(id, 'completed', now, tonumber(ARGV[11]))
  end
  return 'completed'
end
if ARGV[9] == '1' and tonumber(f[5] or 0) <= tonumber(f[6] or 0) then
  -- Backoff before retry n: base * 2^(n-1), at most a minute, plus the caller's jitter.
  local wait = math.min(tonumber(ARGV[10]) * 2 ^ (tonumber(f[5]) - 1), 60000000)
  local run_at = now + math.floor(wait * (1 + tonumber(ARGV[12])))
  local changed = {'status', 'queued', 'run_at', int(run_at), 'lease', '',
    'etype', etype, 'emsg', ARGV[8]}
  write(key, changed, present)
  move(id, owner, seq, 'processing', 'queued')
  wake(id, key, f[7])
  redis.call('ZADD', P .. ':delayed', int(run_at), id)
  redis.call('HINCRBY', P .. ':stats', 'retries', 1)
  publish('retrying', id, owner, changed, f[10])
  return 'queued'
end
local changed = {'status', 'failed', 'finished', int(now), 'lease', '',
  'etype', etype, 'emsg', ARGV[8]}
write(key, changed, present, blank)
move(id, owner, seq, 'processing', 'failed')
wake(id, key, f[7])
ended(id, 'failed', now, tonumber(ARGV[11]))
publish('failed', id, owner, changed, f[10])
if f[8] then
  follow(id, 'failed', now, tonumber(ARGV[11]))
end
return 'failed'
