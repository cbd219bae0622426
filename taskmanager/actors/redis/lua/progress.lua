-- Progress of the running attempt that holds the lease; anything else is ignored.
-- ARGV: 4 id, 5 lease, 6 progress
local key = task_key(ARGV[4])
local f = redis.call('HMGET', key, 'status', 'lease', 'owner')
if f[1] ~= 'processing' or f[2] ~= ARGV[5] then
  return false
end
change('progress', ARGV[4], f[3] or '', key, {'progress', ARGV[6]})
return true
