-- Take the next ready task for a worker of this replica and start its attempt under the
-- lease the replica brings, in one step: queued -> processing. Due delayed tasks become
-- ready first. A task is never held between a claim and a start: what a replica took,
-- it runs, and the reaper finds it in the replica's running set should the replica die.
-- Nothing is taken while the queue is paused, nor by a replica that is not registered
-- (declared dead, not back yet): the reaper, which looks only at registered replicas,
-- would never give it back.
-- Sent again after a dropped connection, the script takes a second task under the same
-- lease; the first, recorded as running here but run by no worker, is given back by the
-- heartbeat's check of this replica's running tasks.
-- ARGV: 4 replica, 5 lease. Returns {'task', record...} or {'none', next due time in µs or ''}.
local replica, lease = ARGV[4], ARGV[5]
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
  -- The next two: whether one stays ready is known without another command.
  local popped = redis.call('ZPOPMIN', P .. ':ready', 2)
  if #popped == 0 then
    break
  end
  local id, more = popped[1], #popped > 2
  if more then
    redis.call('ZADD', P .. ':ready', popped[4], popped[3]) -- back, at its place
  end
  local key = task_key(id)
  -- The whole record, read once: the worker needs it, and the start changes a few fields.
  local record = redis.call('HGETALL', key)
  local at = {}
  for i = 1, #record, 2 do
    at[record[i]] = i + 1
  end
  local status = at.status and record[at.status]
  if status == 'queued' and tonumber(record[at.run_at]) > now then
    -- Ready on a clock that has since stepped back: it waits for its run_at again.
    redis.call('ZADD', P .. ':delayed', record[at.run_at], id)
  elseif status == 'queued' then
    -- The doorbell rings while ready tasks remain (another idle replica may take the
    -- next), and falls silent with the last: no replica wakes for a task taken already.
    if more then
      ring()
    else
      redis.call('DEL', P .. ':marker')
    end
    local owner, watchers = record[at.owner], at.w and record[at.w]
    local changed = {'status', 'processing', 'lease', lease, 'started', int(now),
      'finished', '', 'progress', '0', 'attempts', int(tonumber(record[at.attempts]) + 1)}
    redis.call('HSET', key, unpack(changed))
    move(id, owner, record[at.seq], 'queued', 'processing')
    wake(id, key, watchers)
    redis.call('SADD', P .. ':running:' .. replica, id)
    publish('started', id, owner, changed)
    -- The record as it is now: its id, the start's fields, without the long-polls' (woken).
    local started = {'task', 'id', id}
    for i = 1, #changed, 2 do
      local j = at[changed[i]]
      if j then
        record[j] = changed[i + 1]
      else
        record[#record + 1] = changed[i]
        record[#record + 1] = changed[i + 1]
      end
    end
    for i = 1, #record, 2 do
      if record[i] ~= 'w' and record[i] ~= 'id' then
        started[#started + 1] = record[i]
        started[#started + 1] = record[i + 1]
      end
    end
    return started
  end
end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
if #first > 0 then
  return {'none', first[2]}
end
return {'none', ''}
