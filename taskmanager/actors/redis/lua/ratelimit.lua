-- The sliding-window log of one client, checked and recorded in one step, on Redis's
-- clock so that every replica counts alike. ARGV: 4 client, 5 limit, 6 window µs,
-- 7 the request's own name (so that the script, sent again, counts it once)
-- Returns {allowed (0/1), requests in the window, µs until the oldest leaves it}.
local key = P .. ':rl:' .. ARGV[4]
local limit, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_us()
redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
local count = redis.call('ZCARD', key)
local allowed = 1
if count < limit then
  -- Added only if new: this very request, sent again, was counted already.
  count = count + redis.call('ZADD', key, 'NX', int(now), ARGV[7])
elseif not redis.call('ZSCORE', key, ARGV[7]) then
  allowed = 0
end
redis.call('PEXPIRE', key, math.ceil(window / 1000))
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {allowed, count, int(tonumber(oldest[2]) + window - now)}
