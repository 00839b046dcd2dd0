--[[
  Re-drives one dead letter: appends its event to the stream it came from and deletes it
  from the dead-letter stream, in one step, so an entry is never in both streams or in neither.

  Input:
    KEYS[1] dead-letter stream (stream), queue:dead
    KEYS[2] stream to re-drive to (stream); must be the dead entry's `stream` field

    ARGV[1] dead entry id (string, a full stream id: <ms>-<seq>)
    ARGV[2] entry field name (string), `event`: read from the dead entry, written to KEYS[2]

  Output:
    the new entry id in KEYS[2] (string)

  Errors (nothing is written):
    no such dead letter
    the dead letter came from <stream>, not <KEYS[2]>
    nothing to re-drive: the entry had no event
]]
local deadStream = KEYS[1]
local targetStream = KEYS[2]
local deadId = ARGV[1]
local field = ARGV[2]

-- XRANGE id id: an id without its sequence part would match a range, so compare the id too
local found = redis.call('XRANGE', deadStream, deadId, deadId)
local entry = found[1]
if entry == nil or entry[1] ~= deadId then
  return redis.error_reply('no such dead letter')
end

local fields = {}
local flat = entry[2]
for i = 1, #flat, 2 do
  fields[flat[i]] = flat[i + 1]
end

local source = fields['stream'] or ''
if source ~= targetStream then
  return redis.error_reply('the dead letter came from ' .. (source == '' and '(no stream)' or source) .. ', not ' .. targetStream)
end

local event = fields[field] or ''
if event == '' then
  return redis.error_reply('nothing to re-drive: the entry had no event')
end

local newId = redis.call('XADD', targetStream, '*', field, event)
redis.call('XDEL', deadStream, deadId)
return newId
