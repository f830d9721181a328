-- Fragment `seats_prelude`: included at the top of every seat function.
--
-- Shared prelude: state, expiry of due holds, and the commit that bumps the
-- version and publishes the delta (only when something changed).
local K_SEATS, K_VER, K_HOLDS, K_HZ, K_HEND, K_BOOK, K_SYNC = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_STREAM, K_META, K_CHAN = KEYS[8], KEYS[9], KEYS[10]
local NOW = tonumber(ARGV[1])
local MAXLEN, HTTL, EPOCH, SHOWTIME = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local KEEP_UNTIL = ARGV[6]
local ENDED_MEMORY = 3600000
local changes = {}
-- Idempotency keys (KEYS index) seen in this run → result, and new results to store.
local idem_seen, idem_new = {}, {}
-- Indexes (into KEYS) of the seat keys this script wrote, so possibly created.
local touched = {}

local function touch(i)
  touched[i] = true
end

local function change(seat, state)
  changes[#changes + 1] = '{"seat":"' .. seat .. '","state":"' .. state .. '"}'
  touch(1)
end

local function end_hold(id, rec, status)
  touch(3)
  touch(5)
  rec.st = status
  rec.x = NOW
  redis.call('hset', K_HOLDS, id, cjson.encode(rec))
  redis.call('zrem', K_HZ, id)
  redis.call('zadd', K_HEND, NOW, id)
end

local function expire_due()
  local due = redis.call('zrangebyscore', K_HZ, '-inf', NOW)
  for _, id in ipairs(due) do
    local raw = redis.call('hget', K_HOLDS, id)
    if raw then
      local rec = cjson.decode(raw)
      for _, s in ipairs(rec.s) do
        if redis.call('hget', K_SEATS, s) == 'h|' .. id then
          redis.call('hdel', K_SEATS, s)
          change(s, 'free')
        end
      end
      end_hold(id, rec, 'x')
    else
      redis.call('zrem', K_HZ, id)
    end
  end
  local old = redis.call('zrangebyscore', K_HEND, '-inf', NOW - ENDED_MEMORY)
  for _, id in ipairs(old) do
    redis.call('hdel', K_HOLDS, id)
  end
  if #old > 0 then
    redis.call('zremrangebyscore', K_HEND, '-inf', NOW - ENDED_MEMORY)
  end
end

local function version()
  return tonumber(redis.call('get', K_VER) or '0')
end

local function commit()
  if #changes == 0 then
    return version()
  end
  local v = redis.call('incr', K_VER)
  touch(2)
  local payload = '{"type":"seats","showtime":"' .. SHOWTIME .. '","version":' .. v .. ',"changes":[' .. table.concat(changes, ',') .. ']}'
  marquee_publish(K_STREAM, K_META, K_CHAN, payload, MAXLEN, HTTL, EPOCH)
  changes = {}
  return v
end

local function fail(code)
  return {ok = false, err = code}
end

-- Runs an operation after expiring due holds and commits whatever changed,
-- also when the operation failed (expiries must still be published).
-- Keys written by this script (possibly created) expire at KEEP_UNTIL.
local function run(op)
  expire_due()
  local r = op()
  r.version = commit()
  for i in pairs(touched) do
    redis.call('pexpireat', KEYS[i], KEEP_UNTIL)
  end
  return cjson.encode(r)
end
