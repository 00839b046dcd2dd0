-- Folds one measured batch time into the shared latency profile: an exponentially weighted
-- mean per (engine, resolution, steps, batch size), a plain mean while it has few samples.
-- KEYS[1] (string) the profile Hash
-- ARGV[1] (string) the field: <engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>
-- ARGV[2] (number) seconds the batch took
-- ARGV[3] (number) weight of a new sample once the mean is warm, in (0, 1]
-- ARGV[4] (string) when, ISO 8601
-- returns (string) the field's new JSON value {"seconds", "samples", "at"}
local seconds = tonumber(ARGV[2])
local samples = 1
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, previous = pcall(cjson.decode, old)
  if ok and type(previous) == 'table' and tonumber(previous.seconds) and tonumber(previous.samples) then
    samples = tonumber(previous.samples) + 1
    local weight = math.max(tonumber(ARGV[3]), 1 / samples)
    seconds = previous.seconds + weight * (seconds - previous.seconds)
  end
end
local value = cjson.encode({ seconds = seconds, samples = samples, at = ARGV[4] })
redis.call('HSET', KEYS[1], ARGV[1], value)
return value
