-- Keeps this consumer's claim on entries it is still working on, so no other worker reclaims
-- them: XCLAIM ... JUSTID resets their idle time without counting a delivery. An entry that
-- meanwhile belongs to another consumer, or was acked, is left alone and returned.
-- KEYS[1] (string) the jobs stream
-- ARGV[1] (string) the consumer group
-- ARGV[2] (string) this consumer's name
-- ARGV[3..n] (string) entry ids this consumer holds
-- returns (array of strings) the ids it no longer holds
local lost = {}
local mine = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2])
  if #pending == 1 then
    mine[#mine + 1] = id
  else
    lost[#lost + 1] = id
  end
end
if #mine > 0 then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine), 'JUSTID')
end
return lost
