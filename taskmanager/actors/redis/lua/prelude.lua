-- Shared by every script: the scripts are the functions of one library, loaded once
-- (see taskmanager/actors/redis/connection.py), so this runs once, not at every call.
-- Each call begins with `begin(ARGV)`: ARGV[1] is the key prefix, ARGV[2] the event
-- log's length, ARGV[3] the time in µs, the calling replica's clock ('' means Redis's,
-- which the scripts that judge whether replicas are alive read).
-- A task is a hash, and its status field is the truth: every change is one script that
-- checks the status (and the lease of a running attempt), moves the task between the
-- indexes, keeps the counts, and appends the event, all in one step.
local P, MAXLEN, CLOCK, EXPIRING
local TERMINAL = {completed = true, failed = true, cancelled = true}
-- Ready tasks pop highest priority first, then in submission order.
local PRIORITY_STEP = 1099511627776 -- 2^40: more submissions than any store will see

-- Numbers go to Redis as strings; Lua would write 16-digit ones in exponent form.
local function int(x)
  return string.format('%d', x)
end

-- Read once per call: a script is one moment.
local script_now
local function now_us()
  if script_now then
    return script_now
  end
  if CLOCK ~= '' then
    script_now = tonumber(CLOCK)
  else
    local t = redis.call('TIME')
    script_now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return script_now
end

local function task_key(id)
  return P .. ':task:' .. id
end

local function ready_score(priority, seq)
  return (9 - (tonumber(priority) or 0)) * PRIORITY_STEP + tonumber(seq)
end

-- The sliding-window log of one client's requests, checked and recorded in one step, on
-- the script's clock (now_us). ``name`` is the request's own: a script sent again counts
-- it once. Returns {allowed (0/1), requests in the window, µs until the oldest leaves it},
-- and whether the request was new to the window (false: this script was sent again).
local function sliding_window(client, limit, window, name)
  local key = P .. ':rl:' .. client
  local now = now_us()
  redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
  local count = redis.call('ZCARD', key)
  local allowed, fresh = 1, false
  if count < limit then
    -- Added only if new: this very request, sent again, was counted already.
    local added = redis.call('ZADD', key, 'NX', int(now), name)
    count, fresh = count + added, added == 1
  elseif not redis.call('ZSCORE', key, name) then
    allowed = 0
  end
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {allowed, count, int(tonumber(oldest[2]) + window - now)}, fresh
end

local function replica_of(lease)
  return string.match(lease, '^([^/]+)/')
end

-- Parameters up to this size travel in the `submitted` event, so that no replica has to
-- read them back from the record; larger ones are read once per replica that needs them.
local EVENT_PARAMS_MAX = 512
-- Record fields an event leaves out: only the scripts use them (`i` carries the id, `o`
-- the owner, the event's kind the rest of what IMPLIED says).
local NOT_IN_EVENTS = {
  id = true, lease = true, idem = true, fp = true, seq = true, owner = true, w = true,
  dn = true}
-- What each kind of event says without a word: a field that has this value is left out,
-- and a reader takes it from here (taskmanager/actors/redis/events.py keeps the same
-- table). A submission without a delay runs at its creation.
local IMPLIED = {
  submitted = {status = 'queued', progress = '0', attempts = '0', priority = '0',
    max_retries = '0'},
  started = {status = 'processing', progress = '0', finished = '', waitf = '', attempts = '1'},
  progress = {},
  completed = {status = 'completed', progress = '1', etype = '', emsg = ''},
  failed = {status = 'failed'},
  cancelled = {status = 'cancelled', etype = '', emsg = ''},
  retrying = {status = 'queued'},
  removed = {},
}
-- Every entry repeats its kind, the task's id and the names of its fields: the kind and
-- the fields most events carry are named with a letter, and the id is written in base64
-- (22 characters, not 36). A reader takes the names of earlier versions too (events.py).
-- A time named with its letter is the µs since the task's creation (a small number takes
-- half of a time's 10 bytes in the stream); under its name, it is the time itself.
local KIND_CODES = {submitted = 'n', started = 's', progress = 'p', completed = 'c',
  failed = 'f', cancelled = 'x', retrying = 'r', removed = 'd'}
local FIELD_CODES = {type = 't', params = 'p', created = 'c', run_at = 'u', started = 's',
  finished = 'f', progress = 'g', result = 'r', etype = 'e', emsg = 'm', attempts = 'a'}
local SINCE_CREATED = {run_at = true, started = true, finished = true}
local BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

-- The 16 bytes of a task's id (a UUID) in URL-safe base64, without padding. Done on
-- character codes (one string.byte, one string.char): no string is made per digit.
local DIGITS -- the codes of BASE64's characters (a library may not compute at load)
local function short_id(id)
  DIGITS = DIGITS or {string.byte(BASE64, 1, 64)}
  local b = {string.byte(id, 1, 36)}
  local hex, n = {}, 0
  for i = 1, 36 do
    local c = b[i]
    if c ~= 45 then -- '-'
      n = n + 1
      hex[n] = c < 58 and c - 48 or c - 87 -- '0'-'9', 'a'-'f'
    end
  end
  local out = {}
  -- Three hex digits (12 bits) make two characters; the last two (8 bits) make two too.
  for i = 1, 30, 3 do
    local bits = hex[i] * 256 + hex[i + 1] * 16 + hex[i + 2]
    out[#out + 1] = DIGITS[math.floor(bits / 64) + 1]
    out[#out + 1] = DIGITS[bits % 64 + 1]
  end
  local bits = (hex[31] * 16 + hex[32]) * 16
  out[21] = DIGITS[math.floor(bits / 64) + 1]
  out[22] = DIGITS[bits % 64 + 1]
  return string.char(unpack(out))
end

-- Append an event: the fields the change set, not the record (a replica that follows
-- the stream for its subscribers keeps each task's state and applies the change). A
-- `submitted` event carries the new record, its empty fields and large parameters left
-- out. Only replicas with /events subscribers read the stream: it is written for them
-- and for clients that resume, so every byte left out is kept less, for every task.
-- `created` is the task's creation time, when the caller read it (a `submitted` event
-- carries it).
local function publish(kind, id, owner, changed, created)
  local fields = {'k', KIND_CODES[kind], 'i', short_id(id)}
  if owner ~= '' then
    fields[#fields + 1] = 'o'
    fields[#fields + 1] = owner
  end
  local implied = IMPLIED[kind]
  if changed then
    for i = 1, #changed, 2 do
      local name, value = changed[i], changed[i + 1]
      if name == 'created' then
        created = value
      end
      if not NOT_IN_EVENTS[name] and implied[name] ~= value and not (kind == 'submitted'
          and (value == '' or (name == 'run_at' and value == created)
            or (name == 'params' and #value > EVENT_PARAMS_MAX))) then
        local code = FIELD_CODES[name] or name
        if SINCE_CREATED[name] and value ~= '' then
          if created then
            value = int(tonumber(value) - tonumber(created))
          else
            code = name
          end
        end
        fields[#fields + 1] = code
        fields[#fields + 1] = value
      end
    end
  end
  return redis.call('XADD', P .. ':events', 'MAXLEN', '~', MAXLEN, '*', unpack(fields))
end

-- Set the fields of a change in the record, and append its event.
local function change(kind, id, owner, key, changed)
  redis.call('HSET', key, unpack(changed))
  publish(kind, id, owner, changed)
end

-- A record leaves out a field that is empty or at its default, and a run_at that is its
-- creation time: a third of a record was such fields. Every reader (these scripts,
-- taskmanager/actors/redis/records.py) takes a missing field for that value, and reads
-- records of earlier versions, which kept them, the same.
local DEFAULTS = {progress = '0', attempts = '0', priority = '0', max_retries = '0'}
local function idle(name, value)
  return value == '' or DEFAULTS[name] == value
end

-- Write the fields of a change (name, value, ...) to the record: a field that becomes
-- empty or its default is removed, if `present[name]` says the record has it (the
-- caller read the record's fields anyway: no command is spent to find out).
local function write(key, changed, present)
  local set, gone = {}, {}
  for i = 1, #changed, 2 do
    local name, value = changed[i], changed[i + 1]
    if not idle(name, value) then
      set[#set + 1] = name
      set[#set + 1] = value
    elseif present[name] then
      gone[#gone + 1] = name
    end
  end
  if #set > 0 then
    redis.call('HSET', key, unpack(set))
  end
  if #gone > 0 then
    redis.call('HDEL', key, unpack(gone))
  end
end

-- Idle dispatchers block on this key (BZPOPMIN), as BullMQ's workers block on their
-- marker: a task that becomes ready rings it, one blocked replica wakes and claims. No
-- replica reads what happens to tasks it has nothing to do with.
local function ring()
  redis.call('ZADD', P .. ':marker', 0, '0')
end

-- What concerns one replica only goes to its inbox, a list it blocks on (BLMPOP): 'c:id'
-- to stop a job it runs, 'w:id' to look again at a task its long-polls wait for. An
-- inbox nobody reads (its replica died) goes away by itself.
local INBOX_TTL_MS = 60000
local function tell(replica, message)
  local inbox = P .. ':inbox:' .. replica
  redis.call('RPUSH', inbox, message)
  redis.call('PEXPIRE', inbox, INBOX_TTL_MS)
end

-- The task changed status: wake the replicas whose long-polls wait for it. `watchers`
-- is the record's `w` field (their names, comma separated; set by the watch script),
-- read by the caller with the fields it reads anyway, so a task nobody waits for costs
-- nothing more.
local function wake(id, key, watchers)
  if watchers then
    for replica in string.gmatch(watchers, '[^,]+') do
      tell(replica, 'w:' .. id)
    end
    redis.call('HDEL', key, 'w')
  end
end

-- The statuses with an index of their own besides `idx:all`. A running task is in the
-- running set of its replica (the scripts that start and end an attempt keep it), and a
-- completed one in none: it is what `idx:all` holds besides the others. So a task that
-- runs to completion is indexed twice, not four times.
local INDEXED = {queued = true, failed = true, cancelled = true}

-- Move a task from one status to another in the indexes, keeping the counts of an owner
-- (an API key's; the whole service's come from the indexes' sizes).
local function move(id, owner, seq, from, to)
  if from then
    if INDEXED[from] then
      redis.call('ZREM', P .. ':idx:' .. from, id)
    end
    if owner ~= '' then
      redis.call('HINCRBY', P .. ':counts', owner .. '|' .. from, -1)
    end
  end
  if to then
    if INDEXED[to] then
      redis.call('ZADD', P .. ':idx:' .. to, seq, id)
    end
    if owner ~= '' then
      redis.call('HINCRBY', P .. ':counts', owner .. '|' .. to, 1)
    end
  end
end

-- EXPIRING (set by `begin`): finished tasks in the order they ended, each as '<removal
-- time µs>:<id>': with one result TTL, that is the order they expire in, and a list entry
-- takes less than half of a sorted set's. (After a restart with a shorter TTL, tasks that
-- end then wait behind those that ended before: kept at most as long as the longer TTL.)

-- A task reached a terminal status: it is removed once its result TTL has passed. A
-- completion counts in its minute's field (`done:<minute>`), which the sweep folds into
-- the total once the minute is out of /stats' window: one command, not two.
local function ended(id, status, now, ttl_us)
  redis.call('RPUSH', EXPIRING, int(now + ttl_us) .. ':' .. id)
  if status == 'completed' then
    redis.call('HINCRBY', P .. ':stats', 'done:' .. math.floor(now / 60000000), 1)
  else
    redis.call('HINCRBY', P .. ':stats', 'finished:' .. status, 1)
  end
end

-- The first `limit` finished tasks whose result TTL has passed, in the order they ended.
local function expired(now, limit)
  local due = {}
  for _, entry in ipairs(redis.call('LRANGE', EXPIRING, 0, limit - 1)) do
    local sep = string.find(entry, ':', 1, true)
    if tonumber(string.sub(entry, 1, sep - 1)) > now then
      break
    end
    due[#due + 1] = string.sub(entry, sep + 1)
  end
  if #due > 0 then
    redis.call('LTRIM', EXPIRING, #due, -1)
  end
  -- Tasks that ended before this list was kept wait in the sorted set kept then.
  if #due < limit then
    local earlier = P .. ':idx:expiry'
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', earlier, '-inf', int(now), 'LIMIT', 0,
        limit - #due)) do
      redis.call('ZREM', earlier, id)
      due[#due + 1] = id
    end
  end
  return due
end

-- Remove up to `limit` tasks whose result TTL has passed; each one emits `removed`.
local function prune(now, limit)
  local due = expired(now, limit)
  for _, id in ipairs(due) do
    local key = task_key(id)
    local f = redis.call('HMGET', key, 'status', 'owner', 'idem', 'w')
    if f[1] then
      f[2], f[3] = f[2] or '', f[3] or ''
      if f[4] then
        for replica in string.gmatch(f[4], '[^,]+') do
          tell(replica, 'w:' .. id)
        end
      end
      redis.call('DEL', key)
      redis.call('ZREM', P .. ':idx:all', id)
      if f[2] ~= '' then
        redis.call('ZREM', P .. ':idx:own:' .. f[2], id)
      end
      move(id, f[2], 0, f[1], nil)
      if f[3] ~= '' then
        redis.call('DEL', P .. ':idem:' .. f[2] .. ':' .. f[3])
      end
      publish('removed', id, f[2])
    end
  end
  return #due
end

-- Back to the queue, at its place: delayed until run_at, else ready.
-- `quiet`: the caller's replica will claim it itself (it has an idle worker waiting).
local function enqueue(id, priority, seq, run_at, now, quiet)
  if tonumber(run_at) > now then
    redis.call('ZADD', P .. ':delayed', int(run_at), id)
  else
    redis.call('ZADD', P .. ':ready', int(ready_score(priority, seq)), id)
    if not quiet then
      ring()
    end
  end
end

-- Whether `replica` may start attempts: it is registered (its hash is there: a replica
-- declared dead, not back yet, must not, as the reaper would never give its tasks back)
-- and the queue is not paused (the pause script writes it in every replica's hash).
local function may_start(replica)
  return redis.call('HGET', P .. ':replica:' .. replica, 'paused') == '0'
end

-- With `max_tasks` kept, the µs until the soonest one may be removed; nil while there is room.
local function full(now, max_tasks)
  if redis.call('ZCARD', P .. ':idx:all') < tonumber(max_tasks) then
    return nil
  end
  -- The sweeper removes what has expired; until it has run, make room here.
  prune(now, 100)
  if redis.call('ZCARD', P .. ':idx:all') < tonumber(max_tasks) then
    return nil
  end
  local first = redis.call('LINDEX', EXPIRING, 0)
  if first then
    return math.max(1000000, tonumber(string.match(first, '^(%d+):')) - now)
  end
  return 5000000
end

-- Create a queued task, index it, queue it (ringing an idle replica unless `quiet`) and
-- publish `submitted`; its seq and run_at. Shared by submit.lua and fire.lua.
-- `t` holds the record's fields: type, params, priority, delay_us, timeout, max_retries,
-- owner, idem, fp, and the optional schedule, deps (the ids it depends on, comma
-- separated) and waitf (those of them not completed yet): an empty one is not written.
-- A task that waits for others is not queued: the end of the last one queues it. With
-- `t.hold` it is neither queued nor waits: the caller ends it at once.
local function create_task(id, t, now, quiet)
  local key = task_key(id)
  local seq = redis.call('INCR', P .. ':seq')
  local run_at = now + tonumber(t.delay_us)
  -- The id is the key's: a copy in the record would take a tenth of it.
  local record = {'type', t.type, 'status', 'queued', 'params', t.params, 'created', int(now),
    'seq', seq}
  if run_at ~= now then
    record[#record + 1] = 'run_at'
    record[#record + 1] = int(run_at)
  end
  for _, name in ipairs({'priority', 'timeout', 'max_retries', 'owner', 'idem', 'fp',
      'schedule', 'deps', 'waitf'}) do
    local value = t[name] or ''
    if not idle(name, value) then
      record[#record + 1] = name
      record[#record + 1] = value
    end
  end
  redis.call('HSET', key, unpack(record))
  redis.call('ZADD', P .. ':idx:all', seq, id)
  if t.owner ~= '' then
    redis.call('ZADD', P .. ':idx:own:' .. t.owner, seq, id)
  end
  move(id, t.owner, seq, nil, 'queued')
  if t.hold then
    -- left as it is: the caller ends it
  elseif (t.waitf or '') == '' then
    enqueue(id, t.priority, seq, run_at, now, quiet)
  else
    -- Each task it waits for knows (`dn` in its record, read by the scripts that end it
    -- with the fields they read anyway): a task nobody waits for costs nothing more.
    for dependency in string.gmatch(t.waitf, '[^,]+') do
      redis.call('SADD', P .. ':dependants:' .. dependency, id)
      redis.call('HSET', task_key(dependency), 'dn', '1')
    end
  end
  publish('submitted', id, t.owner, record)
  return seq, run_at
end

-- A queued task that is in no queue index goes back to it, unless it is there already
-- or is no longer queued (cancelled, or started). Its status.
local function unclaim(id, now)
  local f = redis.call('HMGET', task_key(id), 'status', 'priority', 'seq', 'run_at', 'created')
  if f[1] == 'queued' and not redis.call('ZSCORE', P .. ':ready', id)
      and not redis.call('ZSCORE', P .. ':delayed', id) then
    enqueue(id, f[2], f[3], f[4] or f[5], now)
  end
  return f[1]
end

-- `list` (comma separated) without `item`.
local function without(list, item)
  local kept = {}
  for each in string.gmatch(list, '[^,]+') do
    if each ~= item then
      kept[#kept + 1] = each
    end
  end
  return table.concat(kept, ',')
end

-- Cancel the queued task `id` as dependency_failed: `dependency` ended with `status`
-- (failed or cancelled). `waitf` is what it still waited for, kept in the record and
-- told in the event.
local function cancel_for(id, key, owner, seq, watchers, waitf, dependency, status, now,
    ttl_us)
  local changed = {'status', 'cancelled', 'finished', int(now), 'etype', 'dependency_failed',
    'emsg', 'dependency ' .. dependency .. ' ' .. status, 'waitf', waitf}
  write(key, changed, {})
  move(id, owner, seq, 'queued', 'cancelled')
  wake(id, key, watchers)
  ended(id, 'cancelled', now, ttl_us)
  publish('cancelled', id, owner, changed)
end

-- The task `id` ended with `status`, and tasks wait for it (its record has `dn`): each
-- one it was the last to wait for is queued when it completed; otherwise each is
-- cancelled as dependency_failed, and the tasks that wait for those in turn, down the
-- whole chain.
local function follow(id, status, now, ttl_us)
  local left = {{id, status}}
  while #left > 0 do
    local done = table.remove(left)
    local set = P .. ':dependants:' .. done[1]
    local dependants = redis.call('SMEMBERS', set)
    redis.call('DEL', set)
    for _, dependant in ipairs(dependants) do
      local key = task_key(dependant)
      local f = redis.call('HMGET', key, 'status', 'waitf', 'owner', 'seq', 'priority', 'run_at',
        'w', 'dn', 'created')
      local waitf = f[1] == 'queued' and f[2] or ''
      local rest = without(waitf, done[1])
      if rest == waitf then
        -- cancelled meanwhile, or not waiting for this one
      elseif done[2] == 'completed' then
        write(key, {'waitf', rest}, {waitf = true})
        if rest == '' then
          enqueue(dependant, f[5], f[4], f[6] or f[9], now)
        end
      else
        cancel_for(dependant, key, f[3] or '', f[4], f[7], waitf, done[1], done[2], now, ttl_us)
        if f[8] then
          left[#left + 1] = {dependant, 'cancelled'}
        end
      end
    end
  end
end

-- The start of every call: its arguments, and a clock not read yet.
local function begin(argv)
  P, MAXLEN, CLOCK = argv[1], argv[2], argv[3]
  EXPIRING = P .. ':expiring'
  script_now = nil
end
