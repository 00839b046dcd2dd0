-- Parks a job in the dead-letter stream in the stream source's format (so `npm run dead-letters`
-- lists and re-drives it), tells its owner with tryon.failed when the job can be addressed, and
-- acks the entry: all or nothing, and only while the entry is pending under this consumer.
-- KEYS[1] (string) the jobs stream
-- KEYS[2] (string) the dead-letter stream
-- KEYS[3] (string) the lifecycle stream
-- ARGV[1] (string) the consumer group
-- ARGV[2] (string) this consumer's name
-- ARGV[3] (string) the entry id
-- ARGV[4] (string) the entry field that holds an event
-- ARGV[5] (string) the entry's raw event text ('' when it had none)
-- ARGV[6] (string) the reason
-- ARGV[7] (string) the route name written with it
-- ARGV[8] (string) deliveries so far
-- ARGV[9] (string) when, ISO 8601
-- ARGV[10] (string) the tryon.failed CloudEvent, JSON, or '' when the owner cannot be named
-- returns (integer) 1 parked, 0 not this consumer's entry (nothing written)
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then
  return 0
end
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[3], '*', ARGV[4], ARGV[10])
end
redis.call('XADD', KEYS[2], '*', ARGV[4], ARGV[5], 'reason', ARGV[6], 'stream', KEYS[1], 'group', ARGV[1],
  'route', ARGV[7], 'entry', ARGV[3], 'status', '', 'attempts', ARGV[8], 'at', ARGV[9])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return 1
