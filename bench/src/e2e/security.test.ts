/**
 * Security from outside (issue #9, item 3), against the whole dev stack over HTTP and the
 * /updates WebSocket only (Redis is read for what was queued). The stack runs here on SeaweedFS
 * (the test S3 server, which checks POST policies and signatures) instead of its embedded S3
 * server, with a known JWT key (to forge tokens with) and LOG_LEVEL=debug (the most log text to
 * scan). It replays the api's authorization matrix over every route of the served OpenAPI
 * document and the bad-input matrix, checks that a socket never carries another user's events,
 * then stops the stack and scans everything every part logged for every token, refresh token,
 * API key, password and presigned signature the run handed out.
 *
 * `npm run e2e:security -w @proteus/bench` runs the same and writes the `security` section of
 * docs/RELIABILITY.md; in `npm test` the tables are only printed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { astronautPath } from '@proteus/segment/test-photos';
import { isolatedBucket } from '@proteus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTerminal, Updates } from './client.ts';
import { report } from './report.ts';
import { type InputResult, personJpegOf, runInputs } from './security-inputs.ts';
import { type CellResult, documentedRoutes, principals, rows, runRow } from './security-matrix.ts';
import { securityReport } from './security-report.ts';
import { expectStatus, makeWorld, uploadVerified, type World } from './security-world.ts';
import { type E2EStack, startE2EStack } from './stack.ts';

const JOB_MS = 120_000;
const started = performance.now();
let bucket: Awaited<ReturnType<typeof isolatedBucket>>;
let stack: E2EStack | undefined;
let stopped = false;
let redis: Redis;
let w: World;
let ownerUpdates: Updates;
let anotherUpdates: Updates;
const jwtSecret = randomBytes(32).toString('hex');
const adminEmail = `admin-${randomUUID()}@example.org`;
let garmentPng: Uint8Array;
let personJpeg: Uint8Array;
const cells: CellResult[] = [];
let inputs: InputResult[] = [];
const socketRows: InputResult[] = [];
let logScan = { bytes: 0, lines: 0, secrets: 0, kinds: {} as Record<string, number>, found: [] as string[] };

beforeAll(async () => {
  bucket = await isolatedBucket();
  const { server } = bucket;
  stack = await startE2EStack({
    OBJECT_STORAGE_ENDPOINT: server.endpoint,
    OBJECT_STORAGE_BUCKET: bucket.bucket,
    OBJECT_STORAGE_REGION: server.region,
    OBJECT_STORAGE_ACCESS_KEY: server.accessKeyId,
    OBJECT_STORAGE_SECRET_KEY: server.secretAccessKey,
    JWT_SECRET: jwtSecret,
    ADMIN_EMAILS: adminEmail,
    LOG_LEVEL: 'debug',
  });
  redis = new Redis(stack.envOf('gpu-worker').REDIS_URL as string, { maxRetriesPerRequest: 2 });
  garmentPng = readFileSync(astronautPath());
  personJpeg = await personJpegOf(garmentPng);
  w = await makeWorld(stack.url, redis, adminEmail, { garmentPng, personJpeg });
  ownerUpdates = await Updates.open({ url: w.url, token: w.owner.token, userId: w.owner.userId, email: w.owner.email });
  anotherUpdates = await Updates.open({ url: w.url, token: w.another.token, userId: w.another.userId, email: w.another.email });
}, 300_000);

afterAll(async () => {
  ownerUpdates?.close();
  anotherUpdates?.close();
  redis?.disconnect();
  if (!stopped) await stack?.stop();
  await bucket?.drop().catch(() => {});
}, 120_000);

const failuresOf = (results: { failure?: string | undefined }[], name: (r: never) => string) =>
  results.filter((r) => r.failure).map((r) => `${name(r as never)}: ${r.failure}`);

describe('security from outside the running stack', () => {
  it('has a row for every route of the served OpenAPI document, and none for a route it lacks', async () => {
    const documented = await documentedRoutes(w);
    const covered = rows.map((r) => r.route);
    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((route) => !covered.includes(route))).toEqual([]);
    expect(covered.filter((route) => !documented.includes(route))).toEqual([]);
  });

  it('replays the authorization matrix: every route x {owner, another user, anonymous, key of owner, key of another}', async () => {
    for (const row of rows) cells.push(...(await runRow(w, row)));
    // the admin routes answer an admin (the matrix's principals are none)
    for (const path of ['/api/ops/status', '/api/users']) {
      const answer = await w.call('GET', path, { token: w.admin.token });
      cells.push({
        route: `GET ${path}`,
        group: path.includes('ops') ? 'Health' : 'Users',
        principal: 'admin',
        expected: 200,
        measured: answer.status,
        failure: answer.status === 200 ? undefined : answer.text.slice(0, 200),
      });
    }
    expect(cells.length).toBe(rows.length * principals.length + 2);
    expect(failuresOf(cells, (c: CellResult) => `${c.route} as ${c.principal}`)).toEqual([]);
  }, 240_000);

  it('replays the bad-input matrix: each refused with its problem type, nothing half-written', async () => {
    inputs = await runInputs(w, { jwtSecret, garmentPng, personJpeg });
    expect(inputs.length).toBeGreaterThan(30);
    expect(failuresOf(inputs, (r: InputResult) => `${r.group} / ${r.name}`)).toEqual([]);
  }, 240_000);

  it(
    'delivers each user only their own events on /updates',
    async () => {
      // a job of each: both sockets have something to carry
      const theirs = expectStatus(await w.call('POST', '/api/upload/cloth', { token: w.owner.token, body: { key: w.garmentKey } }), 202, 'a job of the owner');
      const ownJob = (theirs.json as { job_id: string }).job_id;
      await ownerUpdates.terminal(ownJob, JOB_MS);
      const anotherGarment = await uploadVerified(w, w.another.token, garmentPng, 'garment', 'image/png');
      const anothers = expectStatus(
        await w.call('POST', '/api/upload/cloth', { token: w.another.token, body: { key: anotherGarment } }),
        202,
        'a job of another',
      );
      const anotherJob = (anothers.json as { job_id: string }).job_id;
      await anotherUpdates.terminal(anotherJob, JOB_MS);

      const ownerJobs = new Set(ownerUpdates.events.map((e) => e.job_id));
      const strayToAnother = anotherUpdates.events.filter((e) => e.userId !== w.another.userId || ownerJobs.has(e.job_id));
      const strayToOwner = ownerUpdates.events.filter((e) => e.userId !== w.owner.userId || e.job_id === anotherJob);
      const terminals = ownerUpdates.events.filter((e) => e.type === 'job' && isTerminal(e.status)).length;
      socketRows.push({
        group: 'Realtime',
        name: `the owner's ${ownerUpdates.events.length} events (${terminals} terminal, from the matrix's jobs) and another user's ${anotherUpdates.events.length}, two sockets open together`,
        expected: 'no event on a socket of someone else',
        measured: `${strayToAnother.length} to another user, ${strayToOwner.length} to the owner`,
        failure: strayToAnother.length + strayToOwner.length ? JSON.stringify([...strayToAnother, ...strayToOwner].slice(0, 3)) : undefined,
      });
      expect(terminals).toBeGreaterThan(1);
      expect(strayToAnother).toEqual([]);
      expect(strayToOwner).toEqual([]);
    },
    3 * JOB_MS,
  );

  it('leaves no token, refresh token, API key, password or presigned signature in any part’s log', async () => {
    for (const e of [...ownerUpdates.events, ...anotherUpdates.events]) w.secrets.addUrl('result URL', e.result_url);
    // the keys the stack was given, too
    w.secrets.add('JWT signing key', jwtSecret);
    w.secrets.add('S3 secret key', bucket.server.secretAccessKey);
    ownerUpdates.close();
    anotherUpdates.close();
    // everything the parts log until they have stopped
    stopped = true;
    await stack?.stop();
    const output = stack?.dev.output() ?? '';
    const entries = w.secrets.entries();
    const found = entries.filter(([, value]) => output.includes(value)).map(([kind, value]) => `${kind} ${value.slice(0, 6)}…`);
    logScan = { bytes: Buffer.byteLength(output), lines: output.split('\n').length, secrets: entries.length, kinds: w.secrets.counts(), found };
    // the scan looked at something: the parts' debug logs, which name the owner by id
    expect(output).toContain(w.owner.userId);
    expect(Object.keys(logScan.kinds)).toEqual(
      expect.arrayContaining(['access token', 'refresh token', 'API key', 'password', 'presigned URL signature', 'POST policy signature']),
    );
    expect(found).toEqual([]);
  }, 120_000);

  it('writes its tables (to docs/RELIABILITY.md with SECURITY_REPORT=1)', () => {
    const requests = [...w.requests.values()];
    const markdown = securityReport({
      cells,
      inputs: [...inputs, ...socketRows],
      logScan,
      seconds: (performance.now() - started) / 1000,
      requests: { total: requests.reduce((a, b) => a + b, 0), mostByOne: Math.max(...requests) },
    });
    console.log(markdown);
    console.log(process.env.SECURITY_REPORT === '1' ? report('security', markdown) : 'docs/RELIABILITY.md not changed (set SECURITY_REPORT=1)');
    expect(markdown).toContain('| route group |');
  });
});
