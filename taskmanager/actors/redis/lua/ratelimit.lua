-- One request of a client, checked against its rate limit and recorded in one step.
-- ARGV: 4 client, 5 limit, 6 window µs, 7 the request's own name (so that the script,
-- sent again, counts it once)
-- Returns {allowed (0/1), requests in the window, µs until the oldest leaves it}.
local rate = sliding_window(ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
close() -- its last value
return rate
