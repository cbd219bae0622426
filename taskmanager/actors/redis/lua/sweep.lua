-- Remove the tasks whose result TTL has passed (the caller holds the pruner's lock).
-- ARGV: 4 most to remove
return prune(now_us(), tonumber(ARGV[4]))
