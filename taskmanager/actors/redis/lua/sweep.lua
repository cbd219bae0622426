-- Remove the tasks whose result TTL has passed (the caller holds the pruner's lock).
-- ARGV: 4 most to remove, 5 the minutes /stats shows
-- Versions before this one also indexed running and completed tasks by status: those
-- indexes, read by nobody now, go.
redis.call('DEL', P .. ':idx:processing', P .. ':idx:completed')
local now = now_us()
-- Completions of the minutes before the last `ARGV[5]` join the total (see `ended`).
local stats = P .. ':stats'
local minute = math.floor(now / 60000000)
if redis.call('HGET', stats, 'folded') ~= tostring(minute) then
  local fields = redis.call('HGETALL', stats)
  local oldest = minute - tonumber(ARGV[5]) + 1
  for i = 1, #fields, 2 do
    local m = string.match(fields[i], '^done:(%d+)$')
    if m and tonumber(m) < oldest then
      redis.call('HINCRBY', stats, 'finished:completed', fields[i + 1])
      redis.call('HDEL', stats, fields[i])
    end
  end
  redis.call('HSET', stats, 'folded', minute)
end
return prune(now, tonumber(ARGV[4]))
