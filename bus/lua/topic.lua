-- Topics: offsets, bounded history, presence and read positions. Every key
-- of a topic carries the hash tag `{<topic>}` (bus/src/keys.rs `TopicKeys`).

-- Publishes one message, at most once per idempotency key.
-- KEYS: stream, meta, channel, and with a key: idempotency hash (key ->
-- `<offset> <epoch>`), idempotency zset (key -> remembered until, unix ms).
-- ARGV: payload, maxlen, ttl, epoch candidate, history byte budget,
-- idempotency key ('' or absent: none), now (unix ms), window (ms), most
-- keys remembered. Returns `{offset, epoch, duplicate}`: with a key seen
-- within the window nothing is published and the first publication's
-- `{offset, epoch, 1}` is returned. Both idempotency keys expire after the
-- window; the oldest entries beyond the cap are forgotten first. Without a
-- key this adds no work to the publish. Arguments were only appended (an
-- older node's call, without budget or key, still works), so the name stays.
redis.register_function('topic_publish', function(KEYS, ARGV)
local key = ARGV[6] or ''
local now = tonumber(ARGV[7] or '0')
if key ~= '' then
  local seen = redis.call('hget', KEYS[4], key)
  if seen and tonumber(redis.call('zscore', KEYS[5], key) or '0') > now then
    local sep = string.find(seen, ' ', 1, true)
    return {tonumber(string.sub(seen, 1, sep - 1)), string.sub(seen, sep + 1), 1}
  end
  local old = redis.call('zrangebyscore', KEYS[5], '-inf', now, 'LIMIT', 0, 16)
  if #old > 0 then
    redis.call('hdel', KEYS[4], unpack(old))
    redis.call('zrem', KEYS[5], unpack(old))
  end
end
local r = marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
if key ~= '' then
  local window = tonumber(ARGV[8])
  redis.call('hset', KEYS[4], key, r[1] .. ' ' .. r[2])
  redis.call('zadd', KEYS[5], now + window, key)
  local over = redis.call('zcard', KEYS[5]) - tonumber(ARGV[9])
  if over > 0 then
    local dropped = redis.call('zpopmin', KEYS[5], over)
    for i = 1, #dropped, 2 do
      redis.call('hdel', KEYS[4], dropped[i])
    end
  end
  redis.call('pexpire', KEYS[4], window)
  redis.call('pexpire', KEYS[5], window)
end
return {r[1], r[2], 0}
end)

-- Reads the topic's position and a range of history in one atomic step.
-- KEYS: stream, meta. ARGV: epoch candidate, mode (`after` | `before`),
-- bound offset (exclusive; for `before`, 0 means "from the newest"), limit,
-- TTL in seconds (0 = none) given to the meta key when this read creates it
-- (a read of a fresh name must not leave a key forever).
-- Returns `{epoch, top, first_available, id1, data1, id2, data2, ...}` where
-- ids are offsets, ascending for `after` and descending for `before`, and
-- `first_available` is the oldest offset still in the stream (top+1 if empty).
redis.register_function('topic_history', function(KEYS, ARGV)
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[2], 'e', epoch)
  if tonumber(ARGV[5]) > 0 then redis.call('expire', KEYS[2], ARGV[5]) end
end
local top = tonumber(redis.call('hget', KEYS[2], 'o') or '0')
local first = top + 1
local head = redis.call('xrange', KEYS[1], '-', '+', 'COUNT', 1)
if #head > 0 then
  first = tonumber(string.sub(head[1][1], 3))
end
local out = {epoch, top, first}
local limit = tonumber(ARGV[4])
if limit > 0 then
  local entries
  if ARGV[2] == 'after' then
    entries = redis.call('xrange', KEYS[1], '(0-' .. ARGV[3], '+', 'COUNT', limit)
  elseif tonumber(ARGV[3]) == 0 then
    entries = redis.call('xrevrange', KEYS[1], '+', '-', 'COUNT', limit)
  else
    entries = redis.call('xrevrange', KEYS[1], '(0-' .. ARGV[3], '-', 'COUNT', limit)
  end
  for _, e in ipairs(entries) do
    table.insert(out, tonumber(string.sub(e[1], 3)))
    table.insert(out, e[2][2])
  end
end
return out
end)

-- Adds or refreshes a presence entry and announces a new one.
-- KEYS: presence hash, expiry zset, channel. ARGV: session id, info JSON,
-- expiry (unix ms), key TTL (seconds). Returns 1 when the entry was new.
redis.register_function('presence_add', function(KEYS, ARGV)
local new = redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[2], ARGV[3], ARGV[1])
redis.call('expire', KEYS[1], ARGV[4])
redis.call('expire', KEYS[2], ARGV[4])
if new == 1 then
  redis.call('publish', KEYS[3], 'j ' .. ARGV[2])
end
return new
end)

-- Removes a presence entry and announces it. KEYS: presence hash, expiry
-- zset, channel. ARGV: session id. Returns 1 when an entry was removed.
redis.register_function('presence_remove', function(KEYS, ARGV)
local info = redis.call('hget', KEYS[1], ARGV[1])
if not info then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('publish', KEYS[3], 'l ' .. info)
return 1
end)

-- Lists live presence entries after dropping expired ones (their owners'
-- node died without cleaning up) and announcing them as left.
-- KEYS: presence hash, expiry zset, channel. ARGV: now (unix ms).
-- Returns `{session1, info1, ...}`.
redis.register_function('presence_list', function(KEYS, ARGV)
local expired = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1])
for _, s in ipairs(expired) do
  local info = redis.call('hget', KEYS[1], s)
  redis.call('hdel', KEYS[1], s)
  if info then redis.call('publish', KEYS[3], 'l ' .. info) end
end
if #expired > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1]) end
return redis.call('hgetall', KEYS[1])
end)

-- Marks a topic read up to an offset for a user (never moves backwards) and
-- returns the unread count. KEYS: reads hash, meta. ARGV: user, offset,
-- TTL in seconds (0 = none), refreshed on every move.
redis.register_function('mark_read', function(KEYS, ARGV)
local top = tonumber(redis.call('hget', KEYS[2], 'o') or '0')
local want = math.min(tonumber(ARGV[2]), top)
local cur = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0')
if want > cur then
  redis.call('hset', KEYS[1], ARGV[1], want)
  if tonumber(ARGV[3]) > 0 then redis.call('expire', KEYS[1], ARGV[3]) end
  cur = want
end
return top - cur
end)

-- Records that a user joined a room (for unread counts). KEYS: the user's
-- rooms set. ARGV: topic, TTL in seconds (0 = none), refreshed on every join.
redis.register_function('room_member_add', function(KEYS, ARGV)
local added = redis.call('sadd', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('expire', KEYS[1], ARGV[2]) end
return added
end)

