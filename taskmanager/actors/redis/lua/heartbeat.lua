-- A replica says it is alive until `deadline`, with its worker figures. Returns 0 when
-- the replica had been declared dead (its tasks went to others): it must stop its jobs.
-- ARGV: 4 replica, 5 lease µs, 6 workers, 7 busy, 8 '1' to register
local replica, lease = ARGV[4], tonumber(ARGV[5])
local now = now_us()
local known = redis.call('ZSCORE', P .. ':replicas', replica)
if not known and ARGV[8] ~= '1' then
  return 0
end
redis.call('ZADD', P .. ':replicas', int(now + lease), replica)
redis.call('HSET', P .. ':replica:' .. replica, 'workers', ARGV[6], 'busy', ARGV[7])
redis.call('PEXPIRE', P .. ':replica:' .. replica, math.ceil(lease / 1000))
return 1
