-- Take the next ready task for a worker of this replica and start its attempt under the
-- lease the replica brings, in one step: queued -> processing. A task is never held
-- between a claim and a start: what a replica took, it runs, and the reaper finds it in
-- the replica's running set should the replica die.
-- Nothing is taken while the queue is paused, nor by a replica that is not registered
-- (declared dead, not back yet): the reaper, which looks only at registered replicas,
-- would never give it back.
-- Sent again after a dropped connection, the script takes a second task under the same
-- lease; the first, recorded as running here but run by no worker, is given back by the
-- heartbeat's check of this replica's running tasks.
-- ARGV: 4 replica, 5 lease, 6 '1' when the caller has no other idle worker (it will not
--       claim again: another replica must hear of what stays ready), 7 '1' to make due
--       delayed tasks ready first (the caller asks now and then; with nothing ready they
--       are looked at anyway). Returns {'task', record...} or {'none', next due µs or ''}.
local replica, lease = ARGV[4], ARGV[5]
if not may_start(replica) then
  return {'none', ''}
end
local now = now_us()
-- Due delayed tasks become ready; how many.
local function promote()
  local due = redis.call('ZRANGEBYSCORE', P .. ':delayed', '-inf', int(now), 'LIMIT', 0, 100)
  for _, id in ipairs(due) do
    redis.call('ZREM', P .. ':delayed', id)
    local f = redis.call('HMGET', task_key(id), 'status', 'priority', 'seq')
    if f[1] == 'queued' then
      redis.call('ZADD', P .. ':ready', int(ready_score(f[2], f[3])), id)
    end
  end
  return #due
end
local promoted = ARGV[7] == '1'
if promoted then
  promote()
end
-- The next ready task's id, or nil; with none ready, due delayed ones are looked at once.
local function next_ready()
  local popped = redis.call('ZPOPMIN', P .. ':ready')
  if #popped == 0 and not promoted then
    promoted = true
    if promote() > 0 then
      popped = redis.call('ZPOPMIN', P .. ':ready')
    end
  end
  return popped[1]
end
while true do
  local id = next_ready()
  if not id then
    break
  end
  local key = task_key(id)
  -- The whole record, read once: the worker needs it, and the start changes a few fields.
  local record = redis.call('HGETALL', key)
  local at = {}
  for i = 1, #record, 2 do
    at[record[i]] = i + 1
  end
  local status = at.status and record[at.status]
  local run_at = status and record[at.run_at or at.created]
  if status == 'queued' and tonumber(run_at) > now then
    -- Ready on a clock that has since stepped back: it waits for its run_at again.
    redis.call('ZADD', P .. ':delayed', run_at, id)
  elseif status == 'queued' then
    -- The caller's last idle worker: another replica may take what stays ready. (When
    -- nothing does, the replica that wakes claims nothing: a cheaper miss than a look.)
    if ARGV[6] == '1' then
      ring()
    end
    local owner, watchers = at.owner and record[at.owner] or '', at.w and record[at.w]
    local attempts = at.attempts and tonumber(record[at.attempts]) or 0
    local changed = {'status', 'processing', 'lease', lease, 'started', int(now),
      'finished', '', 'progress', '0', 'attempts', int(attempts + 1)}
    write(key, changed, at)
    move(id, owner, record[at.seq], 'queued', 'processing')
    wake(id, key, watchers)
    redis.call('SADD', P .. ':running:' .. replica, id)
    publish('started', id, owner, changed, record[at.created])
    -- The record as it was, then the start's fields, which the reader takes over the
    -- earlier values of the same names (the long-polls' `w` it ignores).
    local started = {'task', 'id', id, unpack(record)}
    for i = 1, #changed do
      started[#started + 1] = changed[i]
    end
    return started
  end
end
local first = redis.call('ZRANGE', P .. ':delayed', 0, 0, 'WITHSCORES')
if #first > 0 then
  return {'none', first[2]}
end
return {'none', ''}
