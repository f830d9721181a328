//! Lua for the Redis engine. Scripts run atomically in Redis, which is what
//! makes offsets, history and fan-out of one topic a single ordered step.
//!
//! [`PUBLISH_FN`] is a Lua function that other crates' scripts prepend to
//! their own source, so a seat change and its publication on `showtime:<id>`
//! happen in one atomic script (and so version order equals offset order).

/// Defines `marquee_publish(stream, meta, channel, payload, maxlen, ttl, epoch_candidate)`.
///
/// It assigns the next offset of the topic (creating its epoch from
/// `epoch_candidate` when the topic is new), appends `payload` to the bounded
/// history stream under id `0-<offset>`, refreshes the keys' TTL (seconds;
/// 0 = none) and publishes `p <offset> <epoch> <payload>` on the channel.
/// Returns `{offset, epoch}`. `payload` must be a JSON text.
pub const PUBLISH_FN: &str = r#"
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
"#;

/// Publishes one message. KEYS: stream, meta, channel.
/// ARGV: payload, maxlen, ttl, epoch candidate. Returns `{offset, epoch}`.
pub const PUBLISH: &str = r#"
return marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"#;

/// Reads the topic's position and a range of history in one atomic step.
/// KEYS: stream, meta. ARGV: epoch candidate, mode (`after` | `before`),
/// bound offset (exclusive; for `before`, 0 means "from the newest"), limit.
/// Returns `{epoch, top, first_available, id1, data1, id2, data2, ...}` where
/// ids are offsets, ascending for `after` and descending for `before`, and
/// `first_available` is the oldest offset still in the stream (top+1 if empty).
pub const HISTORY: &str = r#"
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('hset', KEYS[2], 'e', epoch)
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
"#;

/// Adds or refreshes a presence entry and announces a new one.
/// KEYS: presence hash, expiry zset, channel. ARGV: session id, info JSON,
/// expiry (unix ms), key TTL (seconds). Returns 1 when the entry was new.
pub const PRESENCE_ADD: &str = r#"
local new = redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('zadd', KEYS[2], ARGV[3], ARGV[1])
redis.call('expire', KEYS[1], ARGV[4])
redis.call('expire', KEYS[2], ARGV[4])
if new == 1 then
  redis.call('publish', KEYS[3], 'j ' .. ARGV[2])
end
return new
"#;

/// Removes a presence entry and announces it. KEYS: presence hash, expiry
/// zset, channel. ARGV: session id. Returns 1 when an entry was removed.
pub const PRESENCE_REMOVE: &str = r#"
local info = redis.call('hget', KEYS[1], ARGV[1])
if not info then return 0 end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('publish', KEYS[3], 'l ' .. info)
return 1
"#;

/// Lists live presence entries after dropping expired ones (their owners'
/// node died without cleaning up) and announcing them as left.
/// KEYS: presence hash, expiry zset, channel. ARGV: now (unix ms).
/// Returns `{session1, info1, ...}`.
pub const PRESENCE_LIST: &str = r#"
local expired = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1])
for _, s in ipairs(expired) do
  local info = redis.call('hget', KEYS[1], s)
  redis.call('hdel', KEYS[1], s)
  if info then redis.call('publish', KEYS[3], 'l ' .. info) end
end
if #expired > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1]) end
return redis.call('hgetall', KEYS[1])
"#;

/// Marks a topic read up to an offset for a user (never moves backwards) and
/// returns the unread count. KEYS: reads hash, meta. ARGV: user, offset.
pub const MARK_READ: &str = r#"
local top = tonumber(redis.call('hget', KEYS[2], 'o') or '0')
local want = math.min(tonumber(ARGV[2]), top)
local cur = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0')
if want > cur then
  redis.call('hset', KEYS[1], ARGV[1], want)
  cur = want
end
return top - cur
"#;

/// The full source of a script that uses [`PUBLISH_FN`].
pub fn with_publish_fn(body: &str) -> String {
    format!("{PUBLISH_FN}\n{body}")
}
