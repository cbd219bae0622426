-- A worker starts an attempt under its lease: queued -> processing. Returns the record,
-- false when the task must not run here (cancelled, taken by another), or 'refused' when
-- it is still queued but may not start now: it is given back to the queue.
-- ARGV: 4 id, 5 lease, 6 replica
local id, lease, replica = ARGV[4], ARGV[5], ARGV[6]
local key = task_key(id)
redis.call('ZREM', P .. ':claimed:' .. replica, id)
local f = redis.call('HMGET', key, 'status', 'owner', 'seq', 'lease', 'run_at', 'w')
if f[1] == 'processing' and f[4] == lease then
  return redis.call('HGETALL', key) -- this very start, sent again: the same answer
end
if f[1] ~= 'queued' then
  return false
end
local now = now_us()
-- Not yet due (Redis's clock stepped back since the claim), or this replica was declared
-- dead (the reaper would never look at what it runs).
if tonumber(f[5]) > now or not redis.call('ZSCORE', P .. ':replicas', replica) then
  unclaim(id, now)
  return 'refused'
end
if paused() then
  unclaim(id, now_us()) -- claimed just before the pause: back in the queue, at its place
  return false
end
redis.call('ZREM', P .. ':ready', id)
redis.call('ZREM', P .. ':delayed', id)
local changed = {'status', 'processing', 'lease', lease, 'started', int(now),
  'finished', '', 'progress', '0'}
redis.call('HSET', key, unpack(changed))
changed[#changed + 1] = 'attempts'
changed[#changed + 1] = tostring(redis.call('HINCRBY', key, 'attempts', 1))
move(id, f[2], f[3], 'queued', 'processing')
wake(id, key, f[6])
redis.call('SADD', P .. ':running:' .. replica, id)
publish('started', id, f[2], changed)
return redis.call('HGETALL', key)
