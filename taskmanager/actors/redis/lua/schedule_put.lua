-- Create or replace a schedule, unless it belongs to another key than the viewer's.
-- ARGV: 4 name, 5 viewer ('' sees every schedule), 6 owner of a new one, 7 created (µs),
--       8 next due (µs), 9 the most schedules kept, 10... the schedule's fields, name then
--       value.
-- Returns {'created' | 'replaced', record...}, {'full'} when a new one would pass the
-- most kept, or false for another key's schedule.
local name, viewer = ARGV[4], ARGV[5]
local key = P .. ':schedule:' .. name
local f = redis.call('HMGET', key, 'owner', 'created')
local state = 'replaced'
if not f[2] then
  if redis.call('ZCARD', P .. ':schedules') >= tonumber(ARGV[9]) then
    return {'full'}
  end
  state = 'created'
  redis.call('HSET', key, 'name', name, 'owner', ARGV[6], 'created', ARGV[7],
    'last_task', '', 'last_run', '')
elseif viewer ~= '' and f[1] ~= viewer then
  return false
end
redis.call('HSET', key, 'due', ARGV[8], unpack(ARGV, 10))
-- A fire that read the schedule before this change finds another revision and makes nothing.
redis.call('HINCRBY', key, 'rev', 1)
redis.call('ZADD', P .. ':schedules', ARGV[8], name)
local record = redis.call('HGETALL', key)
table.insert(record, 1, state)
return record
