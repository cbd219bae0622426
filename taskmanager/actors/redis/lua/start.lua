-- A worker starts an attempt under its lease: queued -> processing, or nothing.
-- ARGV: 4 id, 5 lease, 6 replica
local id, lease, replica = ARGV[4], ARGV[5], ARGV[6]
local key = task_key(id)
redis.call('ZREM', P .. ':claimed:' .. replica, id)
local f = redis.call('HMGET', key, 'status', 'owner', 'seq', 'lease', 'run_at')
if f[1] == 'processing' and f[4] == lease then
  return redis.call('HGETALL', key) -- this very start, sent again: the same answer
end
if f[1] ~= 'queued' or tonumber(f[5]) > now_us() then
  return false -- cancelled, taken by another, or (a stale claim) waiting for its run_at
end
redis.call('ZREM', P .. ':ready', id)
redis.call('ZREM', P .. ':delayed', id)
redis.call('HSET', key, 'status', 'processing', 'lease', lease, 'started', int(now_us()),
  'finished', '', 'progress', '0')
redis.call('HINCRBY', key, 'attempts', 1)
move(id, f[2], f[3], 'queued', 'processing')
redis.call('SADD', P .. ':running:' .. replica, id)
publish('started', id, f[2], key)
return redis.call('HGETALL', key)
