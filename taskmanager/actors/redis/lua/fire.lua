-- A schedule's due time came: make its one task and move it to its next due time, in one
-- step. The due time is the claim: a replica that read the schedule before another fired
-- it (or before a change) finds another due time or revision, and makes nothing.
-- ARGV: 4 name, 5 due time it read (µs), 6 revision it read, 7 next due time (µs),
--       8 the task's id, 9 max tasks
-- Returns {'created', id}, {'taken'}, or {'full', µs to wait}.
local name, id = ARGV[4], ARGV[8]
local key = P .. ':schedule:' .. name
if redis.call('EXISTS', task_key(id)) == 1 then
  return {'created', id} -- this very fire, sent again
end
local s = redis.call('HMGET', key, 'due', 'rev', 'type', 'params', 'priority', 'delay_us',
  'timeout', 'max_retries', 'owner')
if s[1] ~= ARGV[5] or s[2] ~= ARGV[6] then
  return {'taken'}
end
local now = now_us()
local wait = full(now, ARGV[9])
if wait then
  return {'full', int(wait)}
end
create_task(id, {
  type = s[3], params = s[4], priority = s[5], delay_us = s[6], timeout = s[7],
  max_retries = s[8], owner = s[9], idem = '', fp = '', schedule = name,
}, now)
redis.call('HSET', key, 'due', ARGV[7], 'last_task', id, 'last_run', int(now))
redis.call('ZADD', P .. ':schedules', ARGV[7], name)
return {'created', id}
