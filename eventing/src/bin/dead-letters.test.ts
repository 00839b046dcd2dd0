/** The dead-letter tool as operators run it: a process with an explicit environment, against the real Redis. */
import { join } from 'node:path';
import { isolatedRedisUrl, runPart } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEvent } from '../events.ts';
import { entryField, streams } from '../keys.ts';

const packageDir = join(import.meta.dirname, '..', '..');
const entry = 'src/bin/dead-letters.ts';

let redisUrl: string;
let redis: Redis;
beforeAll(async () => {
  redisUrl = await isolatedRedisUrl();
  redis = new Redis(redisUrl);
});
beforeEach(async () => {
  await redis.flushdb();
});
afterAll(() => redis.disconnect());

const cli = (args: string[], env: Record<string, string> = { REDIS_URL: redisUrl }) => runPart(packageDir, entry, env, 20_000, args);

const segmentRequest = (jobId: string) =>
  JSON.stringify(
    createEvent('dev.proteus.segment.requested', 'api', { jobId, userId: 'u1', vtonId: 'v1', imageKey: 'users/u1/garment/g1.jpg', purpose: 'garment' }),
  );

async function park(event: string, stream: string, reason: string): Promise<string> {
  return (await redis.xadd(streams.dead, '*', entryField, event, 'reason', reason, 'stream', stream, 'entry', '1-0', 'status', '503', 'attempts', '6'))!;
}

const deadIds = async () => (await redis.xrange(streams.dead, '-', '+')).map(([id]) => id);

describe('dead-letters CLI', () => {
  it('lists dead letters as a table, filtered by stream, and as JSON', async () => {
    const segment = await park(segmentRequest('j1'), streams.segment, 'sink answered 503');
    const lifecycle = await park('{bad', streams.lifecycle, 'malformed entry: not JSON');

    const table = await cli(['list']);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id +at +stream +type +attempts +status +reason$/);
    expect(lines[1]).toMatch(new RegExp(`^${segment} +\\S+ +queue:segment +dev\\.proteus\\.segment\\.requested +6 +503 +sink answered 503$`));
    expect(lines[2]).toMatch(new RegExp(`^${lifecycle} .* events:jobs +- +6 +503 +malformed entry: not JSON$`));

    const filtered = await cli(['list', '--stream', streams.lifecycle, '--limit', '5']);
    expect(filtered.code).toBe(0);
    expect(filtered.stdout).toContain('malformed entry: not JSON');
    expect(filtered.stdout).not.toContain(segment);

    const json = await cli(['list', '--json', '--limit', '1']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ id: segment, reason: 'sink answered 503', status: 503, type: 'dev.proteus.segment.requested' }),
    ]);
  }, 30_000);

  it('re-drives by id, one line per id, and exits 1 when one was not re-driven', async () => {
    const event = segmentRequest('j1');
    const deadId = await park(event, streams.segment, 'sink answered 503');

    const moved = await cli(['redrive', deadId]);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    const [newId] = (await redis.xrange(streams.segment, '-', '+')).map(([id]) => id);
    expect(moved.stdout).toBe(`${deadId} re-driven to queue:segment as ${newId}\n`);
    expect(await deadIds()).toEqual([]);

    const again = await cli(['redrive', deadId]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe(`${deadId} skipped: no such dead letter\n`);
    expect(await redis.xlen(streams.segment)).toBe(1);
  }, 30_000);

  it('re-drives --all matching the reason and reports the invalid ones as skipped', async () => {
    const ok = await park(segmentRequest('j1'), streams.segment, 'sink answered 503');
    const other = await park(segmentRequest('j2'), streams.segment, 'sink answered 400');
    const bad = await park('{bad', streams.segment, 'sink answered 503');

    const result = await cli(['redrive', '--all', '--stream', streams.segment, '--reason', '503']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const [newId] = (await redis.xrange(streams.segment, '-', '+')).map(([id]) => id);
    expect(result.stdout.split('\n')).toEqual([
      `${ok} re-driven to queue:segment as ${newId}`,
      expect.stringMatching(new RegExp(`^${bad} skipped: its event is invalid \\(not JSON.*re-driving it would only dead-letter it again$`)),
      '',
    ]);
    expect(await deadIds()).toEqual([other, bad]);

    const none = await cli(['redrive', '--all', '--reason', 'no such reason']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('no dead letters matched\n');
  }, 30_000);

  it('exits 2 naming REDIS_URL when it is missing or not a redis:// URL', async () => {
    const bad = await cli(['list'], { REDIS_URL: 'http://x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL.*\(got "http:\/\/x"\)/);
    expect(bad.stdout).toBe('');
    const missing = await cli(['list'], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/REDIS_URL: required.*\(got unset\)/);
  }, 30_000);

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [[], /no command given/],
    [['list', '--bogus'], /Unknown option '--bogus'/],
    [['list', '--limit', 'many'], /--limit "many" must be a whole number/],
    [['redrive'], /redrive needs dead letter ids or --all/],
    [['redrive', '--all', '1-0'], /either dead letter ids or --all/],
    [['redrive', '1-0', '--reason', 'x'], /--stream and --reason go with redrive --all/],
  ])(
    'exits 64 with the usage on stderr for %j',
    async (args, why) => {
      const result = await cli(args);
      expect(result.code).toBe(64);
      expect(result.stderr).toMatch(why);
      expect(result.stderr).toContain('usage: dead-letters <command> [options]');
      expect(result.stdout).toBe('');
    },
    30_000,
  );
});
