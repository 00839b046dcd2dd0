-- Finishes a job this consumer holds: appends its outcome event (tryon.completed or
-- tryon.failed) and acks the entry, atomically, and only while the entry is still pending under
-- this consumer. A job another worker has taken over is finished by that worker alone, so every
-- job gets one outcome event however often it was delivered.
-- KEYS[1] (string) the jobs stream
-- KEYS[2] (string) the lifecycle stream
-- ARGV[1] (string) the consumer group
-- ARGV[2] (string) this consumer's name
-- ARGV[3] (string) the entry id
-- ARGV[4] (string) the entry field that holds an event
-- ARGV[5] (string) the outcome CloudEvent, JSON
-- ARGV[6] (string) MINID to trim the lifecycle stream to (approximately), or '' for no trim
-- returns (integer) 1 finished, 0 not this consumer's entry (nothing written)
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then
  return 0
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[6], '*', ARGV[4], ARGV[5])
else
  redis.call('XADD', KEYS[2], '*', ARGV[4], ARGV[5])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return 1
