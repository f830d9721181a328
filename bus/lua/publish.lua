-- The helper every publishing function calls: it is library code, so a
-- seat change or a chat event and its publication happen in one atomic step
-- (and so version order equals offset order).
--
-- Defines `marquee_publish(stream, meta, channel, payload, maxlen, ttl, epoch_candidate, max_bytes)`.
--
-- It assigns the next offset of the topic (creating its epoch from
-- `epoch_candidate` when the topic is new), appends `payload` to the bounded
-- history stream under id `0-<offset>`, refreshes the keys' TTL (seconds;
-- 0 = none) and publishes `p <offset> <epoch> <payload>` on the channel.
-- Returns `{offset, epoch}`. `payload` must be a JSON text.
--
-- History is bounded twice: at most `maxlen` entries, and at most
-- `max_bytes` payload bytes (nil: HISTORY_BYTES below, the same number as
-- `bus::DEFAULT_HISTORY_BYTES`; the seat and chat functions pass none). The
-- meta hash's field `b` holds the payload bytes in the stream. The oldest
-- entries go first and the newest is always kept; a trimmed offset is simply
-- no longer in the stream, so a recovery from it answers "cannot recover"
-- exactly as after count trimming. When nothing is trimmed the byte budget
-- costs one XLEN and one HINCRBY; trimming reads only the entries it drops.
local HISTORY_BYTES = 1048576
local TRIM_BATCH = 16

-- Drops the oldest entries (never `newest`) while `bytes` is over `budget`;
-- returns the bytes left. Reaching the newest means it alone is left, so the
-- count is then set from it (this also repairs a count that drifted, e.g. a
-- stream deleted by hand while its meta hash stayed).
local function trim_bytes(stream, bytes, budget, newest, newest_len)
  local last_dropped = nil
  while bytes > budget do
    local from = '-'
    if last_dropped then from = '(' .. last_dropped end
    local batch = redis.call('xrange', stream, from, '+', 'COUNT', TRIM_BATCH)
    local reached_newest = #batch == 0
    for _, e in ipairs(batch) do
      if e[1] == newest then
        reached_newest = true
        break
      end
      bytes = bytes - #e[2][2]
      last_dropped = e[1]
      if bytes <= budget then break end
    end
    if reached_newest then
      bytes = newest_len
      break
    end
  end
  if last_dropped then
    redis.call('xtrim', stream, 'MINID', '0-' .. (tonumber(string.sub(last_dropped, 3)) + 1))
  end
  return bytes
end

local function marquee_publish(stream, meta, channel, payload, maxlen, ttl, epoch_candidate, max_bytes)
  local epoch = redis.call('hget', meta, 'e')
  if not epoch then
    epoch = epoch_candidate
    redis.call('hset', meta, 'e', epoch)
  end
  local offset = redis.call('hincrby', meta, 'o', 1)
  local limit = tonumber(maxlen)
  local budget = tonumber(max_bytes) or HISTORY_BYTES
  -- XADD's exact MAXLEN below drops the oldest `excess` entries: read their
  -- sizes first so that `b` stays the stream's payload bytes.
  local delta = #payload
  local excess = redis.call('xlen', stream) + 1 - limit
  if excess > 0 then
    for _, e in ipairs(redis.call('xrange', stream, '-', '+', 'COUNT', excess)) do
      delta = delta - #e[2][2]
    end
    if limit < 1 then delta = delta - #payload end
  end
  local bytes = redis.call('hincrby', meta, 'b', delta)
  local id = '0-' .. offset
  redis.call('xadd', stream, 'MAXLEN', maxlen, id, 'd', payload)
  if bytes > budget and limit >= 1 then
    redis.call('hset', meta, 'b', trim_bytes(stream, bytes, budget, id, #payload))
  end
  if tonumber(ttl) > 0 then
    redis.call('expire', stream, ttl)
    redis.call('expire', meta, ttl)
  end
  redis.call('publish', channel, 'p ' .. offset .. ' ' .. epoch .. ' ' .. payload)
  return {offset, epoch}
end
