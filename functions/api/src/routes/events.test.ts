import type { DatabaseHandle } from '@proteus/common/db';
import { type ProteusEvent, toBinaryHttp, toStructuredHttp } from '@proteus/eventing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { baseDeps, cleanupStack, collectingLogger, openTestDatabase, PROBLEMS, problemOf, testRedis, testStorage, validVector } from '../../test/deps.ts';
import { createApp } from '../app.ts';

const MAX = 256 * 1024;

describe.each(['postgres', 'pglite'] as const)('POST /events on %s', (kind) => {
  const cleanups = cleanupStack();
  let database: DatabaseHandle;
  let app: ReturnType<typeof createApp>;
  let lines: Record<string, unknown>[];

  // PGlite takes seconds to start on 2 cores: one database per kind, emptied before each test
  beforeAll(async () => {
    database = await openTestDatabase(kind, cleanups);
    const logger = collectingLogger();
    lines = logger.lines;
    app = createApp(baseDeps({ redis: await testRedis(cleanups), database, storage: await testStorage(cleanups), log: logger.log }));
  }, 60_000);
  afterAll(() => cleanups.run());
  beforeEach(async () => {
    await database.db.deleteFrom('processed_events').execute();
    lines.length = 0;
  });

  const rows = () => database.db.selectFrom('processed_events').selectAll().execute();
  const post = (request: { headers: Record<string, string>; body: string }) => app.request('/events', { method: 'POST', ...request });

  async function expectProblem(response: Response, status: number, slug: string) {
    expect(response.status).toBe(status);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ type: PROBLEMS + slug, status, instance: '/events' });
    expect(await rows()).toEqual([]);
    return problem;
  }

  it('records a binary-mode CloudEvent once (204), and a redelivery is a 204 that writes nothing', async () => {
    const event = validVector('tryon-completed') as unknown as ProteusEvent;
    const first = await post(toBinaryHttp(event));
    expect(first.status).toBe(204);
    expect(await first.text()).toBe('');
    const again = await post(toBinaryHttp(event));
    expect(again.status).toBe(204);
    const recorded = await rows();
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ source: event.source, id: event.id, type: event.type });
    expect(lines.filter((l) => l.msg === 'event recorded').map((l) => l.duplicate)).toEqual([false, true]);
  });

  it('records a structured-mode CloudEvent', async () => {
    const event = { ...validVector('segment-completed'), id: 'structured-1' } as unknown as ProteusEvent;
    const response = await post(toStructuredHttp(event));
    expect(response.status).toBe(204);
    expect(await rows()).toMatchObject([{ source: '/proteus/segment', id: 'structured-1', type: 'dev.proteus.segment.completed' }]);
  });

  it('keeps events apart by source: the same id from two sources is two rows', async () => {
    const event = validVector('tryon-failed') as unknown as ProteusEvent;
    expect((await post(toBinaryHttp(event))).status).toBe(204);
    expect((await post(toBinaryHttp({ ...event, source: '/proteus/other' } as ProteusEvent))).status).toBe(204);
    expect(await rows()).toHaveLength(2);
  });

  it('rejects a request that is not a CloudEvent: 400 invalid-event', async () => {
    const problem = await expectProblem(await post({ headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' }), 400, 'invalid-event');
    expect(problem.detail).toMatch(/not a CloudEvent/);
  });

  it('rejects malformed JSON data: 400 invalid-event', async () => {
    const { headers } = toBinaryHttp(validVector('tryon-completed') as unknown as ProteusEvent);
    const problem = await expectProblem(await post({ headers, body: '{"jobId": ' }), 400, 'invalid-event');
    expect(problem.detail).toMatch(/not valid JSON/);
  });

  it('rejects a malformed structured body: 400 invalid-event', async () => {
    await expectProblem(await post({ headers: { 'content-type': 'application/cloudevents+json' }, body: '{"specversion":' }), 400, 'invalid-event');
  });

  it('rejects an unknown event type: 400 invalid-event naming it', async () => {
    const event = { ...validVector('tryon-completed'), type: 'dev.proteus.nope' } as unknown as ProteusEvent;
    const problem = await expectProblem(await post(toStructuredHttp(event)), 400, 'invalid-event');
    expect(problem.detail).toContain('dev.proteus.nope');
  });

  it('rejects data that breaks the contract: 400 invalid-event naming the field', async () => {
    const vector = validVector('tryon-completed');
    const event = { ...vector, data: { ...(vector.data as object), resultKey: '../../etc/passwd' } } as unknown as ProteusEvent;
    const problem = (await expectProblem(await post(toBinaryHttp(event)), 400, 'invalid-event')) as { errors?: { path: string }[] };
    expect(problem.errors?.map((e) => e.path)).toContain('data.resultKey');
  });

  describe('413 event-too-large over 256 KiB, nothing written', () => {
    const padded = (padding: string) => ({ ...validVector('tryon-completed'), padding }) as unknown as ProteusEvent;

    it('with a content-length header', async () => {
      const request = toStructuredHttp(padded('x'.repeat(MAX)));
      const response = await post({ headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) }, body: request.body });
      const problem = await expectProblem(response, 413, 'event-too-large');
      expect(problem.detail).toBe(`at most ${MAX} bytes`);
    });

    it('without a content-length header (counted while reading)', async () => {
      await expectProblem(await post(toStructuredHttp(padded('x'.repeat(MAX)))), 413, 'event-too-large');
    });

    it('counting bytes, not characters (multi-byte text under 256 Ki characters)', async () => {
      // 100 Ki euro signs = 300 KiB of UTF-8
      await expectProblem(await post(toStructuredHttp(padded('€'.repeat(100 * 1024)))), 413, 'event-too-large');
    });

    it('accepts an event just under the limit', async () => {
      const small = toStructuredHttp(padded(''));
      const room = MAX - Buffer.byteLength(small.body);
      const response = await post(toStructuredHttp(padded('x'.repeat(room))));
      expect(response.status).toBe(204);
      expect(await rows()).toHaveLength(1);
    });
  });
});
