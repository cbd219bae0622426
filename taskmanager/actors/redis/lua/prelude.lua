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

-- What a call writes to a sorted set goes in one ZADD per set at the call's end (`close`),
-- and the doorbell rings at most once: a call that submits several tasks (submit.lua takes
-- the submissions a replica has at hand together) pays one command per set, not one per
-- task. Within the call, nothing reads those sets before a removal from them, which
-- applies what is pending first (`move`); `full` counts what it adds itself.
local ADDS, ADDED, RINGS, WINDOWS, KEPT
local function add(key, score, member)
  local pending = ADDS[key]
  if not pending then
    pending = {}
    ADDS[key] = pending
    ADDED[#ADDED + 1] = key
  end
  pending[#pending + 1] = score
  pending[#pending + 1] = member
end

-- At most this many arguments go to one command (Lua's unpack has a limit).
local ARGS_MAX = 1000
local function apply_adds()
  for _, key in ipairs(ADDED) do
    local pending = ADDS[key]
    for first = 1, #pending, ARGS_MAX do
      redis.call('ZADD', key, unpack(pending, first, math.min(first + ARGS_MAX - 1, #pending)))
    end
  end
  ADDS, ADDED = {}, {}
end

-- Sequence numbers a call reserves at once (`reserve_seqs`), handed out by `next_seq`.
local SEQS
local function reserve_seqs(n)
  local last = redis.call('INCRBY', P .. ':seq', n)
  SEQS = {next = last - n + 1, last = last}
end

local function next_seq()
  if SEQS and SEQS.next <= SEQS.last then
    SEQS.next = SEQS.next + 1
    return SEQS.next - 1
  end
  return redis.call('INCR', P .. ':seq')
end

-- The sliding-window log of one client's requests, checked and recorded in one step, on
-- the script's clock (now_us). ``name`` is the request's own: a script sent again counts
-- it once. Returns {allowed (0/1), requests in the window, µs until the oldest leaves it}
-- (that last one filled in by `close`, as the window is read once per call), and whether
-- the request was new to the window (false: this script was sent again).
local function sliding_window(client, limit, window, name)
  local key = P .. ':rl:' .. client
  local now = now_us()
  local w = WINDOWS[key]
  if not w then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
    w = {key = key, window = window, count = redis.call('ZCARD', key), replies = {}}
    WINDOWS[key] = w
    WINDOWS[#WINDOWS + 1] = w
  end
  local allowed, fresh = 1, false
  if w.count < limit then
    -- Added only if new: this very request, sent again, was counted already.
    local added = redis.call('ZADD', key, 'NX', int(now), name)
    w.count, fresh = w.count + added, added == 1
  elseif not redis.call('ZSCORE', key, name) then
    allowed = 0
  end
  local reply = {allowed, w.count}
  w.replies[#w.replies + 1] = reply
  return reply, fresh
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

-- The 16 bytes of a task's id (a UUID) in URL-safe base64, without padding: every three
-- hex digits (12 bits) are two characters, the last two digits (8 bits) two more, each
-- looked up in a table made at the first call (a library may not compute at load).
local TRIPLES, PAIRS
local function short_id(id)
  if not TRIPLES then
    TRIPLES, PAIRS = {}, {}
    for bits = 0, 4095 do
      local hex = string.format('%03x', bits)
      local digits = string.sub(BASE64, math.floor(bits / 64) + 1, math.floor(bits / 64) + 1)
        .. string.sub(BASE64, bits % 64 + 1, bits % 64 + 1)
      TRIPLES[hex] = digits
      if bits < 256 then
        local last = bits * 16
        PAIRS[string.sub(hex, 2)] = string.sub(BASE64, math.floor(last / 64) + 1,
          math.floor(last / 64) + 1) .. string.sub(BASE64, last % 64 + 1, last % 64 + 1)
      end
    end
  end
  local hex = string.gsub(id, '-', '')
  local sub = string.sub
  return TRIPLES[sub(hex, 1, 3)] .. TRIPLES[sub(hex, 4, 6)] .. TRIPLES[sub(hex, 7, 9)]
    .. TRIPLES[sub(hex, 10, 12)] .. TRIPLES[sub(hex, 13, 15)] .. TRIPLES[sub(hex, 16, 18)]
    .. TRIPLES[sub(hex, 19, 21)] .. TRIPLES[sub(hex, 22, 24)] .. TRIPLES[sub(hex, 25, 27)]
    .. TRIPLES[sub(hex, 28, 30)] .. PAIRS[sub(hex, 31, 32)]
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
-- caller read the record's fields anyway: no command is spent to find out), unless
-- `blank[name]`: then it is written empty, in the same command as the others.
local function write(key, changed, present, blank)
  local set, gone = {}, {}
  for i = 1, #changed, 2 do
    local name, value = changed[i], changed[i + 1]
    if not idle(name, value) or (blank and blank[name] and present[name]) then
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
  RINGS = true
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
      apply_adds()
      redis.call('ZREM', P .. ':idx:' .. from, id)
    end
    if owner ~= '' then
      redis.call('HINCRBY', P .. ':counts', owner .. '|' .. from, -1)
    end
  end
  if to then
    if INDEXED[to] then
      add(P .. ':idx:' .. to, seq, id)
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

-- Remove up to `limit` tasks whose result TTL has passed; each one emits `removed`. Their
-- keys go in one DEL, their index entries in one ZREM per index.
local function prune(now, limit)
  local due = expired(now, limit)
  local keys, all, own, seen = {}, {}, {}, {}
  for _, id in ipairs(due) do
    local key = task_key(id)
    local f = not seen[id] and redis.call('HMGET', key, 'status', 'owner', 'idem', 'w')
    seen[id] = true
    if f and f[1] then
      local owner, idem = f[2] or '', f[3] or ''
      if f[4] then
        for replica in string.gmatch(f[4], '[^,]+') do
          tell(replica, 'w:' .. id)
        end
      end
      keys[#keys + 1] = key
      all[#all + 1] = id
      if owner ~= '' then
        own[owner] = own[owner] or {}
        table.insert(own[owner], id)
      end
      move(id, owner, 0, f[1], nil)
      if idem ~= '' then
        keys[#keys + 1] = P .. ':idem:' .. owner .. ':' .. idem
      end
      publish('removed', id, owner)
    end
  end
  if #keys > 0 then
    redis.call('DEL', unpack(keys))
    redis.call('ZREM', P .. ':idx:all', unpack(all))
    KEPT = nil
  end
  for owner, ids in pairs(own) do
    redis.call('ZREM', P .. ':idx:own:' .. owner, unpack(ids))
  end
  return #due
end

-- Back to the queue, at its place: delayed until run_at, else ready.
-- `quiet`: the caller's replica will claim it itself (it has an idle worker waiting).
local function enqueue(id, priority, seq, run_at, now, quiet)
  if tonumber(run_at) > now then
    add(P .. ':delayed', int(run_at), id)
  else
    add(P .. ':ready', int(ready_score(priority, seq)), id)
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
-- The count is read once a call and kept up to date by `create_task`.
local function full(now, max_tasks)
  local all = P .. ':idx:all'
  KEPT = KEPT or redis.call('ZCARD', all)
  if KEPT < tonumber(max_tasks) then
    return nil
  end
  -- The sweeper removes what has expired; until it has run, make room here.
  apply_adds()
  prune(now, 100)
  KEPT = redis.call('ZCARD', all)
  if KEPT < tonumber(max_tasks) then
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
  local seq = next_seq()
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
  add(P .. ':idx:all', seq, id)
  if KEPT then
    KEPT = KEPT + 1
  end
  if t.owner ~= '' then
    add(P .. ':idx:own:' .. t.owner, seq, id)
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
  apply_adds()
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

-- The start of every call: its arguments, a clock not read yet, nothing pending.
local function begin(argv)
  P, MAXLEN, CLOCK = argv[1], argv[2], argv[3]
  EXPIRING = P .. ':expiring'
  script_now = nil
  ADDS, ADDED, RINGS, WINDOWS, KEPT, SEQS = {}, {}, false, {}, nil, nil
end

-- The end of every call (and of a script that needs its rate replies whole before it
-- returns): what is pending is written, and each rate-limit window's expiry is set and
-- its oldest request read, once.
local function close()
  apply_adds()
  if RINGS then
    redis.call('ZADD', P .. ':marker', 0, '0')
    RINGS = false
  end
  for _, w in ipairs(WINDOWS) do
    redis.call('PEXPIRE', w.key, math.ceil(w.window / 1000))
    local oldest = redis.call('ZRANGE', w.key, 0, 0, 'WITHSCORES')
    local reset = int(oldest[2] and tonumber(oldest[2]) + w.window - now_us() or w.window)
    for _, reply in ipairs(w.replies) do
      reply[3] = reset
    end
  end
  WINDOWS = {}
end
