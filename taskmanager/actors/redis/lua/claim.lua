-- Take the next ready task for a worker of this replica: due delayed tasks become ready
-- first; the task is held in the replica's claimed set until its worker starts it.
-- ARGV: 4 replica. Returns {'task', record...} or {'none', next due time in µs or ''}.
local replica = ARGV[4]
local now = now_us()
local due = redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', int(now), 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', P .. ':delayed', id)
  local f = redis.call('HMGET', task_key(id), 'status', 'priority', 'seq')
  if f[1] == 'queued' then
    redis.call('ZADD', P .. ':ready', int(ready_score(f[2], f[3])), id)
  end
end
while true do
  local popped = redis.call('ZPOPMIN', P .. ':ready')
  if #popped == 0 then
    break
  end
  local id = popped[1]
  if redis.call('HGET', task_key(id), 'status') == 'queued' then
    redis.call('ZADD', P .. ':claimed:' .. replica, int(now), id)
    local result = redis.call('HGETALL', task_key(id))
    table.insert(result, 1, 'task')
    return result
  end
end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
if #first > 0 then
  return {'none', first[2]}
end
return {'none', ''}
