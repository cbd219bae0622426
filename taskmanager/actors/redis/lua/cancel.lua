-- Cancel a queued or processing task. The replica running it sees the event and stops
-- the job; its late report then finds the task cancelled and changes nothing.
-- ARGV: 4 id, 5 viewer ('' for every task), 6 result TTL µs, 7 the calling replica
local id, viewer = ARGV[4], ARGV[5]
local key = task_key(id)
local f = redis.call('HMGET', key, 'status', 'owner', 'seq', 'lease', 'w', 'dn', 'etype',
  'created')
f[2] = f[2] or ''
if not f[1] or (viewer ~= '' and f[2] ~= viewer) then
  return false
end
if TERMINAL[f[1]] then
  return redis.call('HGETALL', key)
end
redis.call('ZREM', P .. ':ready', id)
redis.call('ZREM', P .. ':delayed', id)
if f[4] and f[4] ~= '' then
  local runner = replica_of(f[4])
  redis.call('SREM', P .. ':running:' .. runner, id)
  if runner ~= ARGV[7] then
    tell(runner, 'c:' .. id) -- the caller stops its own job itself
  end
end
local now = now_us()
local changed = {'status', 'cancelled', 'finished', int(now), 'lease', '',
  'etype', '', 'emsg', ''}
-- The lease goes, and the error of an attempt before (a task cancelled while it waits
-- for a retry).
write(key, changed, {lease = f[4], etype = f[7], emsg = f[7]})
move(id, f[2], f[3], f[1], 'cancelled')
wake(id, key, f[5])
ended(id, 'cancelled', now, tonumber(ARGV[6]))
publish('cancelled', id, f[2], changed, f[8])
if f[6] then
  follow(id, 'cancelled', now, tonumber(ARGV[6]))
end
return redis.call('HGETALL', key)
