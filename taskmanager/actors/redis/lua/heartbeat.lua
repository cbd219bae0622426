-- Runs when Redis is at maxmemory too (allow-oom): else replicas, unable to renew their
-- leases, would stop their own jobs while claims and finishes still run. It writes a few
-- small values, most of them in place.
-- A replica says it is alive for `lease` more µs, with its worker figures. Returns 0 when
-- the replica had been declared dead (its tasks went to others): it must stop its jobs.
-- ARGV: 4 replica, 5 lease µs, 6 workers, 7 busy, 8 '1' to register
local replica, lease = ARGV[4], tonumber(ARGV[5])
local now = now_us()
local last = redis.call('GET', P .. ':lastbeat')
redis.call('SET', P .. ':lastbeat', int(now))
if last and now - tonumber(last) > lease then
  -- Nobody could renew for longer than a lease: Redis itself was away (or the whole
  -- service was). The first replica back must not declare all the others dead: every
  -- one gets a fresh deadline, and one that really died is noticed a lease later.
  for _, other in ipairs(redis.call('ZRANGE', P .. ':replicas', 0, -1)) do
    redis.call('ZADD', P .. ':replicas', int(now + lease), other)
  end
end
local known = redis.call('ZSCORE', P .. ':replicas', replica)
if not known and ARGV[8] ~= '1' then
  return 0
end
redis.call('ZADD', P .. ':replicas', int(now + lease), replica)
-- The hash lives as long as the registration (the reaper deletes both): a claim reads
-- in it whether its replica is registered, and whether the service is paused, copied
-- here for the claims (see pause.lua).
local paused = redis.call('EXISTS', P .. ':paused') == 1 and '1' or '0'
redis.call('HSET', P .. ':replica:' .. replica, 'workers', ARGV[6], 'busy', ARGV[7],
  'paused', paused)
return 1
