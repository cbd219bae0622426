-- Take the next ready task for a worker of this replica: due delayed tasks become ready
-- first; the task is held in the replica's claimed set until its worker starts it.
-- A replica that is not registered (declared dead, not back yet) takes nothing: the
-- reaper, which looks only at registered replicas, would never give it back.
-- ARGV: 4 replica. Returns {'task', record...} or {'none', next due time in µs or ''}.
local replica = ARGV[4]
if paused() then
  return {'none', ''}
end
local now = now_us()
if not redis.call('ZSCORE', P .. ':replicas', replica) then
  return {'none', ''}
end
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
  local f = redis.call('HMGET', task_key(id), 'status', 'run_at')
  if f[1] == 'queued' and tonumber(f[2]) > now then
    -- Ready on a clock that has since stepped back: it waits for its run_at again, as
    -- start would refuse it.
    redis.call('ZADD', P .. ':delayed', f[2], id)
  elseif f[1] == 'queued' then
    -- The doorbell rings while ready tasks remain (another idle replica may take the
    -- next), and falls silent with the last: no replica wakes for a task taken already.
    if redis.call('ZCARD', P .. ':ready') == 0 then
      redis.call('DEL', P .. ':marker')
    else
      ring()
    end
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
