-- Runs when Redis is at maxmemory too (allow-oom), like the heartbeat: a dead replica's
-- tasks go back to the queue (or fail) even then; it moves them between indexes.
-- Replicas whose deadline passed are dead: attempts they ran (a claim starts one) are
-- retried (when max_retries allows) or fail as worker_lost.
-- ARGV: 4 backoff base µs, 5 result TTL µs, 6 the caller's random seed for the jitter,
--       7 the largest jitter, as a share of the backoff
local now = now_us()
-- Each retry gets a jitter of its own (0 to 10 % of the backoff, as finish adds): the
-- tasks of a dead replica do not all come back at the same instant.
math.randomseed(tonumber(ARGV[6]) or 0)
local dead = redis.call('ZRANGEBYSCORE', P .. ':replicas', '-inf', int(now))
for _, replica in ipairs(dead) do
  -- A replica of an earlier version held what it claimed here until it started it.
  local claimed = P .. ':claimed:' .. replica
  for _, id in ipairs(redis.call('ZRANGE', claimed, 0, -1)) do
    unclaim(id, now)
  end
  for _, id in ipairs(redis.call('SMEMBERS', P .. ':running:' .. replica)) do
    local key = task_key(id)
    local f = redis.call('HMGET', key, 'status', 'lease', 'owner', 'seq', 'attempts', 'max_retries',
      'w', 'dn', 'created')
    if f[1] == 'processing' and replica_of(f[2]) == replica then
      f[3] = f[3] or ''
      local message = 'the replica running the task stopped answering'
      if tonumber(f[5] or 0) <= tonumber(f[6] or 0) then
        local wait = math.min(tonumber(ARGV[4]) * 2 ^ (tonumber(f[5]) - 1), 60000000)
        local run_at = now + math.floor(wait * (1 + tonumber(ARGV[7]) * math.random()))
        local changed = {'status', 'queued', 'run_at', int(run_at), 'lease', '',
          'etype', 'worker_lost', 'emsg', message}
        write(key, changed, {lease = true})
        move(id, f[3], f[4], 'processing', 'queued')
        wake(id, key, f[7])
        redis.call('ZADD', P .. ':delayed', int(run_at), id)
        redis.call('HINCRBY', P .. ':stats', 'retries', 1)
        publish('retrying', id, f[3], changed, f[9])
      else
        local changed = {'status', 'failed', 'finished', int(now), 'lease', '',
          'etype', 'worker_lost', 'emsg', message}
        write(key, changed, {lease = true})
        move(id, f[3], f[4], 'processing', 'failed')
        wake(id, key, f[7])
        ended(id, 'failed', now, tonumber(ARGV[5]))
        publish('failed', id, f[3], changed, f[9])
        if f[8] then
          follow(id, 'failed', now, tonumber(ARGV[5]))
        end
      end
    end
  end
  redis.call('DEL', claimed, P .. ':running:' .. replica,
    P .. ':replica:' .. replica, P .. ':inbox:' .. replica)
  redis.call('ZREM', P .. ':replicas', replica)
end
return #dead
