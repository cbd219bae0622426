-- A long-poll on this replica waits for the task: the next change of its status wakes
-- this replica (through its inbox), and no other. Returns the record ({} if none).
-- ARGV: 4 id, 5 replica
local replica = ARGV[5]
local key = task_key(ARGV[4])
local f = redis.call('HMGET', key, 'status', 'w')
if not f[1] then
  return {}
end
if not TERMINAL[f[1]] then
  if not f[2] then
    redis.call('HSET', key, 'w', replica)
  elseif not string.find(',' .. f[2] .. ',', ',' .. replica .. ',', 1, true) then
    redis.call('HSET', key, 'w', f[2] .. ',' .. replica)
  end
end
return redis.call('HGETALL', key)
