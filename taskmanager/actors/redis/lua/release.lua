-- Give a task back to the queue from this replica: one whose attempt it stops (SIGTERM's
-- grace is over, or no worker here could run it) without failing it, or one that is
-- queued but in no queue index. Only the replica the lease names may stop an attempt.
-- ARGV: 4 id, 5 lease ('' when not started), 6 replica
local id, lease, replica = ARGV[4], ARGV[5], ARGV[6]
local key = task_key(id)
local now = now_us()
if unclaim(id, now) == 'queued' then
  return 'queued'
end
local f = redis.call('HMGET', key, 'status', 'lease', 'owner', 'seq', 'priority', 'run_at', 'w',
  'attempts', 'created')
if f[1] == 'processing' and lease ~= '' and f[2] == lease and replica_of(lease) == replica then
  f[3] = f[3] or ''
  redis.call('SREM', P .. ':running:' .. replica, id)
  -- The attempt is undone, not failed: it does not count against the retries.
  local changed = {'status', 'queued', 'started', '', 'progress', '0', 'lease', '',
    'attempts', int(tonumber(f[8] or 0) - 1)}
  write(key, changed, {started = true, progress = true, lease = true, attempts = true})
  move(id, f[3], f[4], 'processing', 'queued')
  wake(id, key, f[7])
  enqueue(id, f[5], f[4], f[6] or f[9], now)
  publish('retrying', id, f[3], changed, f[9])
  return 'released'
end
return false
