-- Pause ('1') or resume ('0') the whole service. Every registered replica's hash says it
-- too, so that a claim reads in one command whether its replica may start anything (a
-- replica that registers later copies the key at its heartbeat). A resume rings the
-- doorbell, as a task that became ready does: idle replicas look again at once.
-- ARGV: 4 '1' to pause, '0' to resume
local pausing = ARGV[4]
if pausing == '1' then
  redis.call('SET', P .. ':paused', '1')
else
  redis.call('DEL', P .. ':paused')
  ring()
end
for _, replica in ipairs(redis.call('ZRANGE', P .. ':replicas', 0, -1)) do
  local hash = P .. ':replica:' .. replica
  if redis.call('EXISTS', hash) == 1 then
    redis.call('HSET', hash, 'paused', pausing)
  end
end
return pausing
