-- The chat pipeline's per-message state under `mq:{user:<u>}` (bus/src/keys.rs
-- `ChatKeys`): the attempt counter that fences superseded dispatchers, the
-- answered flag, the apology flag and the conversation, each changed together
-- with the publication on topic `user:<u>` (same hash tag, so one slot).

-- Next attempt (or -1 when answered), the conversation's state and turns.
-- KEYS: message, conversation turns, conversation state. ARGV: ttl.
redis.register_function('chat_begin', function(KEYS, ARGV)
if redis.call('hget', KEYS[1], 'd') == '1' then return {-1, '', {}} end
local a = redis.call('hincrby', KEYS[1], 'a', 1)
redis.call('expire', KEYS[1], ARGV[1])
local state = redis.call('get', KEYS[3]) or ''
return {a, state, redis.call('lrange', KEYS[2], 0, -1)}
end)

-- Claims a message id and publishes its echo, or answers 0 if the id was
-- claimed before. KEYS: stream, meta, channel of user:<u>, message.
-- ARGV: echo payload, maxlen, ttl, epoch candidate, state ttl.
redis.register_function('chat_accept', function(KEYS, ARGV)
if redis.call('hsetnx', KEYS[4], 'a', 0) == 0 then return 0 end
redis.call('expire', KEYS[4], ARGV[5])
marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
end)

-- Fenced publish. KEYS: stream, meta, channel of user:<u>, message,
-- conversation turns, conversation state. ARGV: payload, maxlen, ttl,
-- epoch candidate, kind (e: event of the attempt, o: output of the attempt
-- (delta, citation, action), also recorded in `o` so the next attempt
-- publishes `restart`; s: status; a: apology; f: final), attempt, user turn,
-- bot turn, state, state ttl, max turns. Returns the offset, or 0 when
-- fenced out.
redis.register_function('chat_publish', function(KEYS, ARGV)
if redis.call('hget', KEYS[4], 'd') == '1' then return 0 end
local kind = ARGV[5]
if kind == 'a' then
  if redis.call('hsetnx', KEYS[4], 'ap', 1) == 0 then return 0 end
elseif kind ~= 's' then
  if redis.call('hget', KEYS[4], 'a') ~= ARGV[6] then return 0 end
end
if kind == 'o' then redis.call('hset', KEYS[4], 'o', ARGV[6]) end
if kind == 'f' then
  redis.call('hset', KEYS[4], 'd', 1)
  redis.call('rpush', KEYS[5], ARGV[7], ARGV[8])
  redis.call('ltrim', KEYS[5], -tonumber(ARGV[11]), -1)
  redis.call('expire', KEYS[5], ARGV[10])
  redis.call('set', KEYS[6], ARGV[9], 'EX', ARGV[10])
end
local r = marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return r[1]
end)

-- Takes due warnings. KEYS: warnings. ARGV: now, limit.
redis.register_function('chat_due_warnings', function(KEYS, ARGV)
local m = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #m > 0 then redis.call('zrem', KEYS[1], unpack(m)) end
return m
end)


-- Like chat_begin, and also says whether the attempt before the new one
-- began streaming output (`o`, set by chat_publish with kind `o`), so the new one
-- publishes `restart`; `o` is left as it is. (chat_begin stays for nodes of
-- the previous release during a deploy.)
-- KEYS: message, conversation turns, conversation state. ARGV: ttl.
-- Returns {attempt or -1, state, turns, 1 if restart else 0}.
redis.register_function('chat_begin_attempt', function(KEYS, ARGV)
if redis.call('hget', KEYS[1], 'd') == '1' then return {-1, '', {}, 0} end
local a = redis.call('hincrby', KEYS[1], 'a', 1)
redis.call('expire', KEYS[1], ARGV[1])
local state = redis.call('get', KEYS[3]) or ''
local restart = 0
if redis.call('hget', KEYS[1], 'o') == tostring(a - 1) then restart = 1 end
return {a, state, redis.call('lrange', KEYS[2], 0, -1), restart}
end)

-- Like chat_accept, for an accept made of two steps (this claim, then the
-- queueing `XADD` on the request stream, which lives in another Cluster slot
-- and so cannot be written here) that a timed-out attempt may have left
-- half done: a claim that ran but whose request was never queued is told
-- apart from one that was, so the retry queues it. The gateway sets `q` on
-- the message once its request is queued; `a` above 0 (a dispatcher began
-- it) or `d` (answered) also mean queued. (chat_accept stays for nodes of
-- the previous release during a deploy; it never sets `q`, so a retry of
-- its claim that no dispatcher has begun yet is queued again: the
-- dispatchers' attempt fence answers it once.)
-- KEYS: stream, meta, channel of user:<u>, message.
-- ARGV: echo payload, maxlen, ttl, epoch candidate, state ttl.
-- Returns 1 (claimed now, echo published: queue it), 2 (claimed before and
-- not known to be queued: queue it, no new echo) or 0 (queued before).
redis.register_function('chat_accept_claim', function(KEYS, ARGV)
local m = redis.call('hmget', KEYS[4], 'a', 'q', 'd')
if m[1] then
  if m[2] == '1' or m[3] == '1' or (tonumber(m[1]) or 0) > 0 then return 0 end
  redis.call('expire', KEYS[4], ARGV[5])
  return 2
end
redis.call('hset', KEYS[4], 'a', 0)
redis.call('expire', KEYS[4], ARGV[5])
marquee_publish(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
end)
