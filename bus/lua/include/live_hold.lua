-- Fragment `live_hold`: included after the seat prelude.
--
-- Looks up a live hold of the caller; returns `rec` or nil and an error code.
local function live_hold(id, user)
  local raw = redis.call('hget', K_HOLDS, id)
  if not raw then return nil, 'hold_not_found' end
  local rec = cjson.decode(raw)
  if rec.u ~= user then return nil, 'not_owner' end
  if rec.st == 'x' then return nil, 'hold_expired' end
  if rec.st ~= 'h' then return nil, 'hold_not_found' end
  return rec, nil
end
