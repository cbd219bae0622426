-- Remove the tasks whose result TTL has passed (the caller holds the pruner's lock).
-- ARGV: 4 most to remove
-- Versions before this one also indexed running and completed tasks by status: those
-- indexes, read by nobody now, go.
redis.call('DEL', P .. ':idx:processing', P .. ':idx:completed')
return prune(now_us(), tonumber(ARGV[4]))
