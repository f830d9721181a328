-- The helper every publishing function calls: it is library code, so a
-- seat change or a chat event and its publication happen in one atomic step
-- (and so version order equals offset order).
--
-- Defines `marquee_publish(stream, meta, channel, payload, maxlen, ttl, epoch_candidate)`.
--
-- It assigns the next offset of the topic (creating its epoch from
-- `epoch_candidate` when the topic is new), appends `payload` to the bounded
-- history stream under id `0-<offset>`, refreshes the keys' TTL (seconds;
-- 0 = none) and publishes `p <offset> <epoch> <payload>` on the channel.
-- Returns `{offset, epoch}`. `payload` must be a JSON text.
local function marquee_publish(stream, meta, channel, payload, maxlen, ttl, epoch_candidate)
  local epoch = redis.call('hget', meta, 'e')
  if not epoch then
    epoch = epoch_candidate
    redis.call('hset', meta, 'e', epoch)
  end
  local offset = redis.call('hincrby', meta, 'o', 1)
  redis.call('xadd', stream, 'MAXLEN', maxlen, '0-' .. offset, 'd', payload)
  if tonumber(ttl) > 0 then
    redis.call('expire', stream, ttl)
    redis.call('expire', meta, ttl)
  end
  redis.call('publish', channel, 'p ' .. offset .. ' ' .. epoch .. ' ' .. payload)
  return {offset, epoch}
end
