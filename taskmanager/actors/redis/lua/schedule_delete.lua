-- Delete a schedule unless it belongs to another key than the viewer's; its record, or false.
-- ARGV: 4 name, 5 viewer ('' sees every schedule)
local name, viewer = ARGV[4], ARGV[5]
local key = P .. ':schedule:' .. name
local record = redis.call('HGETALL', key)
if #record == 0 or (viewer ~= '' and redis.call('HGET', key, 'owner') ~= viewer) then
  return false
end
redis.call('DEL', key)
redis.call('ZREM', P .. ':schedules', name)
return record
