-- The seat store's functions (seats/src/redis.rs calls them through
-- `bus::RedisHandle`). Each runs atomically on the keys of one
-- showtime (one hash tag, so one Cluster slot): it expires due holds, applies
-- the operation, bumps the version and publishes the delta with
-- `marquee_publish` in the same step, so version order is offset order.
--
-- Keys (all under `mq:{showtime:<id>}`), in this order for every seat function
-- (bus/src/keys.rs `ShowtimeKeys::function_keys`):
-- 1. `:seats` hash seat → `h|<hold id>` or `s|<booking id>` (absent = free)
-- 2. `:ver` the version counter
-- 3. `:holds` hash hold id → JSON `{u,s,e,f,t,n,st,b,x}`
-- 4. `:hz` sorted set live hold id → expiry (ms)
-- 5. `:hend` sorted set ended hold id → end time (tombstones, pruned after an hour)
-- 6. `:bookings` hash booking id → `{"user":…}` (the cache of the ledger's
--    bookings: who bought a sold seat, for a viewer's `mine`)
-- 7. `:synced` set once the showtime's sold seats were rebuilt from the
--    ledger (absent after Redis lost its data: holds are refused until then)
-- 8. to 10. the bus's stream, meta and channel of topic `showtime:<id>`
-- 11. and on (operations only) the holds' idempotency keys `:idem:<user>:<key>`
--
-- Common ARGV: now (ms), history maxlen, history TTL (s), epoch candidate,
-- showtime id, keep-until (ms: when the showtime's seat state expires), then
-- the operation's own arguments. Every script sets the keys among 1 to 7
-- that it wrote (so may have created) to expire at keep-until (`PEXPIREAT`),
-- so a showtime's state goes away by itself some days after it ended; the
-- idempotency key has its own `PX`. Every script returns JSON text:
-- `{"ok":true,...,"version":N}` or `{"ok":false,"err":"<code>",...}`, or,
-- for the batch of hold, extend and release operations (`seats_ops`), an array of those.

-- Hold, extend and release, several at once: the group commit of
-- seats/src/lanes.rs. The operations run in order, each on the state the ones
-- before it left, after one expiry pass; then one commit bumps the version
-- once and publishes one delta with every change. ARGV 7: the number of
-- operations; then per operation its kind (`h`, `e` or `r`), user, count of
-- its own arguments, and those:
-- - `h` hold: new hold id, TTL (ms), expiry (ms: now + TTL), idempotency
-- TTL (ms), index into KEYS of its idempotency key, seats (sorted). A retry with the same key (also
-- within the batch) returns the stored result verbatim; its `req` lets the
-- caller detect a key reused for other seats. `first` says the new hold
-- expires before every other live hold of the showtime, so the caller must
-- lower the global index entry to it.
-- - `e` extend: hold id, max total life (ms), max extends.
-- - `r` release: `hold` and the hold id, or `seats` and the seats.
--
-- Returns a JSON array with one result per operation, in order.
redis.register_function('seats_ops', function(KEYS, ARGV)
--@include seats_prelude
--@include live_hold
-- Whether the showtime's sold seats are in the cache (see `seats_apply`).
local synced = redis.call('exists', K_SYNC) == 1
-- The earliest expiry among live holds (false: none), read once per run.
local earliest_live
local function earliest()
  if earliest_live == nil then
    local first = redis.call('zrange', K_HZ, 0, 0, 'WITHSCORES')
    earliest_live = #first > 0 and tonumber(first[2]) or false
  end
  return earliest_live
end

-- Holds build their JSON by concatenation from the string arguments (ids
-- and seats are validated to [A-Za-z0-9_.-]): formatting Lua numbers is
-- the costliest part of a hold otherwise. Result `raw` is that JSON without
-- its version and closing brace.
local function op_hold(user, a)
  if not synced then return fail('unsynced') end
  local key = tonumber(a[5])
  if idem_seen[key] then
    return idem_seen[key]
  end
  local prior = redis.call('get', KEYS[key])
  if prior then
    idem_seen[key] = prior
    return prior
  end
  local id, ttl, exp = a[1], a[2], a[3]
  local seats = {}
  for i = 6, #a do
    seats[#seats + 1] = a[i]
  end
  local taken = {}
  local value = 'h|' .. id
  if #seats == 1 then
    if redis.call('hsetnx', K_SEATS, seats[1], value) == 0 then
      taken[1] = seats[1]
    end
  else
    local cur = redis.call('hmget', K_SEATS, unpack(seats))
    for i, s in ipairs(seats) do
      if cur[i] then
        taken[#taken + 1] = s
      end
    end
    if #taken == 0 then
      local fv = {}
      for _, s in ipairs(seats) do
        fv[#fv + 1] = s
        fv[#fv + 1] = value
      end
      redis.call('hset', K_SEATS, unpack(fv))
    end
  end
  local list = '["' .. table.concat(seats, '","') .. '"]'
  local r
  if #taken > 0 then
    r = {raw = '{"ok":false,"err":"seats_unavailable","seats":["' .. table.concat(taken, '","') .. '"],"req":' .. list}
  else
    -- Only a hold that expires first needs the global index lowered: an
    -- earlier live hold keeps the showtime's index entry at or before it.
    local e = tonumber(exp)
    local before = earliest()
    local first = before == false or before > e
    if first then
      earliest_live = e
    end
    for _, s in ipairs(seats) do
      change(s, 'held')
    end
    redis.call('hset', K_HOLDS, id, '{"u":"' .. user .. '","s":' .. list .. ',"e":' .. exp .. ',"f":' .. ARGV[1] .. ',"t":' .. ttl .. ',"n":0,"st":"h"}')
    redis.call('zadd', K_HZ, exp, id)
    touch(3)
    touch(4)
    r = {raw = '{"ok":true,"hold":"' .. id .. '","seats":' .. list .. ',"e":' .. exp .. ',"n":0,"req":' .. list .. ',"first":' .. tostring(first)}
  end
  idem_seen[key] = r
  idem_new[#idem_new + 1] = {key, r, a[4]}
  return r
end

local function op_extend(user, a)
  local id, max_total, max_n = a[1], tonumber(a[2]), tonumber(a[3])
  local rec, err = live_hold(id, user)
  if not rec then return fail(err) end
  local new = math.min(NOW + rec.t, rec.f + max_total)
  if rec.n >= max_n or new <= rec.e then return fail('extend_limit') end
  rec.e = new
  rec.n = rec.n + 1
  redis.call('hset', K_HOLDS, id, cjson.encode(rec))
  redis.call('zadd', K_HZ, new, id)
  touch(3)
  touch(4)
  return {ok = true, hold = id, seats = rec.s, e = new, n = rec.n}
end

local function op_release(user, a)
  local freed = {}
  if a[1] == 'hold' then
    local id = a[2]
    local rec, err = live_hold(id, user)
    if not rec then return fail(err) end
    for _, s in ipairs(rec.s) do
      if redis.call('hget', K_SEATS, s) == 'h|' .. id then
        redis.call('hdel', K_SEATS, s)
        change(s, 'free')
        freed[#freed + 1] = s
      end
    end
    end_hold(id, rec, 'r')
  else
    local recs = {}
    for i = 2, #a do
      local s = a[i]
      local cur = redis.call('hget', K_SEATS, s)
      if cur and string.sub(cur, 1, 2) == 'h|' then
        local id = string.sub(cur, 3)
        local rec = recs[id]
        if not rec then
          local raw = redis.call('hget', K_HOLDS, id)
          if raw then rec = cjson.decode(raw); recs[id] = rec end
        end
        if rec and rec.u == user and rec.st == 'h' then
          local keep = {}
          for _, x in ipairs(rec.s) do
            if x ~= s then keep[#keep + 1] = x end
          end
          rec.s = keep
          redis.call('hdel', K_SEATS, s)
          change(s, 'free')
          freed[#freed + 1] = s
        end
      end
    end
    for id, rec in pairs(recs) do
      if #rec.s == 0 then
        end_hold(id, rec, 'r')
      elseif rec.u == user and rec.st == 'h' then
        redis.call('hset', K_HOLDS, id, cjson.encode(rec))
      end
    end
  end
  return {ok = true, seats = freed}
end

local results = {}
local pos = 8
expire_due()
for i = 1, tonumber(ARGV[7]) do
  local kind, user, nargs = ARGV[pos], ARGV[pos + 1], tonumber(ARGV[pos + 2])
  local a = {}
  for j = 1, nargs do
    a[j] = ARGV[pos + 2 + j]
  end
  pos = pos + 3 + nargs
  if kind == 'h' then
    results[i] = op_hold(user, a)
  elseif kind == 'e' then
    results[i] = op_extend(user, a)
  elseif kind == 'r' then
    results[i] = op_release(user, a)
  else
    results[i] = fail('bad_op')
  end
end
local v = commit()
for i in pairs(touched) do
  redis.call('pexpireat', KEYS[i], KEEP_UNTIL)
end
-- A result table shared by two operations (a retry within the batch) is
-- encoded once, so both get the same text.
local text = {}
local out = {}
for i, r in ipairs(results) do
  if type(r) == 'string' then
    out[i] = r
  else
    if not text[r] then
      if r.raw then
        text[r] = r.raw .. ',"version":' .. v .. '}'
      else
        r.version = v
        text[r] = cjson.encode(r)
      end
    end
    out[i] = text[r]
  end
end
for _, n in ipairs(idem_new) do
  redis.call('set', KEYS[n[1]], text[n[2]], 'PX', n[3])
end
return '[' .. table.concat(out, ',') .. ']'
end)

-- Pin: the first step of a confirm, before the ledger commits the sale.
-- ARGV 7: user, 8: hold id, 9: pin time (ms). The user's live hold is made to
-- live at least that long from now (without counting as an extend), so it
-- cannot run out while the ledger commits; returns its seats. Fails like
-- `seats_ops`' extend (`hold_not_found`, `hold_expired`, `not_owner`).
redis.register_function('seats_pin', function(KEYS, ARGV)
--@include seats_prelude
--@include live_hold
local user, id, pin = ARGV[7], ARGV[8], tonumber(ARGV[9])
return run(function()
  local rec, err = live_hold(id, user)
  if not rec then return fail(err) end
  if rec.e < NOW + pin then
    rec.e = NOW + pin
    redis.call('hset', K_HOLDS, id, cjson.encode(rec))
    redis.call('zadd', K_HZ, rec.e, id)
    touch(3)
    touch(4)
  end
  return {ok = true, seats = rec.s, e = rec.e}
end)
end)

-- Confirm: the cache follows a booking the ledger (the system of record)
-- has committed already. ARGV 7: user, 8: hold id, 9: the committed booking's
-- id. The hold's seats become sold to it and the hold ends, even when the
-- hold ran out while the ledger committed: the sale is checked before due
-- holds expire. Fails (`hold_not_found`, `hold_expired`, `not_owner`) when
-- the hold is not the user's any more (a sweep expired it first); the caller
-- then forces the sale with `seats_apply`. Confirming a hold confirmed to this
-- booking again is a no-op.
redis.register_function('seats_confirm', function(KEYS, ARGV)
--@include seats_prelude
local user, id, bid = ARGV[7], ARGV[8], ARGV[9]
local function sell()
  local raw = redis.call('hget', K_HOLDS, id)
  if not raw then return fail('hold_not_found') end
  local rec = cjson.decode(raw)
  if rec.u ~= user then return fail('not_owner') end
  if rec.st == 'c' and rec.b == bid then return {ok = true, again = true} end
  if rec.st == 'x' then return fail('hold_expired') end
  if rec.st ~= 'h' then return fail('hold_not_found') end
  for _, s in ipairs(rec.s) do
    redis.call('hset', K_SEATS, s, 's|' .. bid)
    change(s, 'sold')
  end
  rec.b = bid
  end_hold(id, rec, 'c')
  redis.call('hset', K_BOOK, bid, '{"user":"' .. user .. '"}')
  touch(6)
  return {ok = true}
end
local r = sell()
expire_due()
r.version = commit()
for i in pairs(touched) do
  redis.call('pexpireat', KEYS[i], KEEP_UNTIL)
end
return cjson.encode(r)
end)

-- Apply bookings of the ledger to the cache, whatever the cache holds: the
-- rebuild after Redis lost its data, a cancellation, and the repair of a sale
-- whose hold ended before the cache heard of it. ARGV 7: `1` to mark the
-- showtime rebuilt (holds are refused until it is, see `seats_ops`), 8: JSON
-- array of `{"b": booking id, "u": user, "s": [seats], "st": "confirmed" |
-- "cancelled"}`. A confirmed booking's seats become sold to it (a hold on one
-- of them loses that seat: the ledger's sale wins); a cancelled booking's
-- seats that are still sold to it become free. Idempotent.
redis.register_function('seats_apply', function(KEYS, ARGV)
--@include seats_prelude
local mark, list = ARGV[7], cjson.decode(ARGV[8])
return run(function()
  for _, b in ipairs(list) do
    local sold = 's|' .. b.b
    if b.st == 'confirmed' then
      for _, s in ipairs(b.s) do
        if redis.call('hget', K_SEATS, s) ~= sold then
          redis.call('hset', K_SEATS, s, sold)
          change(s, 'sold')
        end
      end
      redis.call('hset', K_BOOK, b.b, '{"user":"' .. b.u .. '"}')
      touch(6)
    else
      for _, s in ipairs(b.s) do
        if redis.call('hget', K_SEATS, s) == sold then
          redis.call('hdel', K_SEATS, s)
          change(s, 'free')
        end
      end
      redis.call('hdel', K_BOOK, b.b)
    end
  end
  if mark == '1' then
    redis.call('set', K_SYNC, '1')
    touch(7)
  end
  return {ok = true}
end)
end)

-- Snapshot for a viewer. ARGV 7: viewer (may be empty). Read-only: does not
-- expire anything, so the map is exactly the state at its version. Returns
-- `{"version":N,"synced":0|1,"seats":[[seat,"h"|"s",mine(0/1),until,hold id],...]}`.
redis.register_function('seats_snapshot', function(KEYS, ARGV)
--@include seats_prelude
local viewer = ARGV[7]
local all = redis.call('hgetall', K_SEATS)
-- Each hold and booking is read (and decoded) once, not once per seat.
local recs, books = {}, {}
local seats = {}
for i = 1, #all, 2 do
  local seat, val = all[i], all[i + 1]
  local kind, id = string.sub(val, 1, 1), string.sub(val, 3)
  local mine, exp, hid = 0, 0, ''
  if viewer ~= '' then
    if kind == 'h' then
      local rec = recs[id]
      if rec == nil then
        local raw = redis.call('hget', K_HOLDS, id)
        rec = raw and cjson.decode(raw) or false
        recs[id] = rec
      end
      if rec and rec.u == viewer then mine, exp, hid = 1, rec.e, id end
    else
      local own = books[id]
      if own == nil then
        local raw = redis.call('hget', K_BOOK, id)
        own = (raw and cjson.decode(raw).user == viewer) or false
        books[id] = own
      end
      if own then mine = 1 end
    end
  end
  seats[#seats + 1] = {seat, kind, mine, exp, hid}
end
local synced = redis.call('exists', K_SYNC)
if #seats == 0 then
  return '{"version":' .. version() .. ',"synced":' .. synced .. ',"seats":[]}'
end
return cjson.encode({version = version(), synced = synced, seats = seats})
end)

-- Sweep: expires due holds and publishes the release. Returns
-- `{"ok":true,"next":<earliest remaining expiry or -1>,"version":N}`.
redis.register_function('seats_sweep', function(KEYS, ARGV)
--@include seats_prelude
return run(function()
  local first = redis.call('zrange', KEYS[4], 0, 0, 'WITHSCORES')
  local next = -1
  if #first > 0 then next = tonumber(first[2]) end
  return {ok = true, next = next, freed = #changes}
end)
end)

-- Adds a showtime to the global hold-expiry index unless it is already due
-- earlier (`ZADD LT`). KEYS: index. ARGV: expiry (ms), showtime.
redis.register_function('hold_index_lower', function(KEYS, ARGV)
return redis.call('zadd', KEYS[1], 'LT', ARGV[1], ARGV[2])
end)

-- The schedule hash: `v` version, `doc` the JSON, `h` its SHA-1 (so nodes
-- holding the same version can tell whether it is the same document).

-- Seeds the cluster's schedule unless one is stored. KEYS: the schedule
-- hash. ARGV: the schedule JSON. Returns `{version, doc}` as stored.
-- (Kept for nodes of the previous release; schedule_share replaces it.)
redis.register_function('schedule_seed', function(KEYS, ARGV)
if redis.call('hexists', KEYS[1], 'doc') == 0 then
  redis.call('hset', KEYS[1], 'doc', ARGV[1], 'v', 1, 'h', redis.sha1hex(ARGV[1]))
end
return redis.call('hmget', KEYS[1], 'v', 'doc')
end)

-- Stores a new cluster schedule under the next version. KEYS: the schedule
-- hash. ARGV: the schedule JSON. Returns the new version.
redis.register_function('schedule_store', function(KEYS, ARGV)
local v = redis.call('hincrby', KEYS[1], 'v', 1)
redis.call('hset', KEYS[1], 'doc', ARGV[1], 'h', redis.sha1hex(ARGV[1]))
return v
end)

-- Offers a node's schedule as the cluster's: stored when none is (the
-- first node seeds it, or Redis lost it) or when the stored version is
-- lower than the node's (Redis restarted empty and another node seeded
-- first, or was restored from an older copy). Compare-and-set in one step,
-- so of nodes offering at once exactly one wins and the others adopt it.
-- KEYS: the schedule hash. ARGV: the schedule JSON, the node's version
-- (0: none). Returns `{version, digest, doc}` as stored.
redis.register_function('schedule_share', function(KEYS, ARGV)
local mine = tonumber(ARGV[2])
local stored = redis.call('hmget', KEYS[1], 'v', 'doc')
if not stored[2] or (tonumber(stored[1]) or 0) < mine then
  redis.call('hset', KEYS[1], 'doc', ARGV[1], 'v', math.max(mine, 1), 'h', redis.sha1hex(ARGV[1]))
end
return redis.call('hmget', KEYS[1], 'v', 'h', 'doc')
end)

-- Lets go of a lease only if it is still ours. KEYS: the lease key. ARGV:
-- our token.
redis.register_function('lease_release', function(KEYS, ARGV)
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
end)

