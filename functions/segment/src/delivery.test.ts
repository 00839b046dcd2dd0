/**
 * Through the real stream source: the api's XADD to queue:segment, delivered by eventing's own
 * `segment-requests` route (binary CloudEvents, Knative delivery semantics) to this function
 * listening on a port, back onto events:jobs. A bad image ends as segment.failed from the
 * segment function, acknowledged: not retried, nothing dead-lettered.
 */
import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listen, type Running } from '@proteus/common';
import { createEvent, createProducer, createStreamSource, keys, type ProteusEvent, streamRoutes } from '@proteus/eventing';
import { waitFor } from '@proteus/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type TestWorld, testWorld } from '../test/deps.ts';
import { createApp } from './app.ts';

let w: TestWorld;
let server: Running;
let source: ReturnType<typeof createStreamSource>;
const route = streamRoutes.find((r) => r.name === 'segment-requests')!;

beforeAll(async () => {
  w = await testWorld();
  server = await listen(createApp(w.deps()), { port: 0, host: '127.0.0.1', part: 'segment' });
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  source = createStreamSource({ redis: w.redis, routes: [{ route, sinkUrl: server.url }], consumer: 'segment-test', log: quiet, blockMs: 50 });
  source.start();
  const put = (key: string, body: Uint8Array) =>
    w.storage.client.send(new PutObjectCommand({ Bucket: w.storage.bucket, Key: key, Body: body, ContentType: 'image/png' }));
  await put('users/u7/garment/shirt.png', readFileSync(inject('astronaut')));
  await put('users/u7/garment/junk.png', Buffer.from('not a png at all'));
}, 60_000);
afterAll(async () => {
  await source?.stop();
  await server?.close();
  await w?.close();
});

const submit = (jobId: string, imageKey: string) =>
  createProducer(w.redis).emit(
    keys.streams.segment,
    createEvent('dev.proteus.segment.requested', 'api', { jobId, userId: 'u7', vtonId: 'v7', imageKey, purpose: 'garment' }),
  );

async function outcomeOf(jobId: string): Promise<ProteusEvent> {
  return waitFor(
    async () => {
      const entries = await w.redis.xrange(keys.streams.lifecycle, '-', '+');
      return entries.map(([, fields]) => JSON.parse(fields[1]!) as ProteusEvent).find((e) => (e.data as { jobId: string }).jobId === jobId);
    },
    { timeoutMs: 20_000, what: `the outcome of ${jobId}` },
  );
}

describe('a segmentation job through the stream source', () => {
  it('comes back as segment.completed with the cut-out stored, the request acknowledged', async () => {
    await submit('job-d1', 'users/u7/garment/shirt.png');
    expect(await outcomeOf('job-d1')).toMatchObject({
      type: 'dev.proteus.segment.completed',
      source: '/proteus/segment',
      data: { jobId: 'job-d1', userId: 'u7', vtonId: 'v7', resultKey: 'users/u7/cloth_clean/job-d1.png' },
    });
    await waitFor(async () => ((await w.redis.xpending(keys.streams.segment, keys.groups.tailors)) as [number])[0] === 0, { what: 'the ack' });
  });

  it('a bad image comes back as segment.failed from the function, acknowledged, not dead-lettered', async () => {
    await submit('job-d2', 'users/u7/garment/junk.png');
    expect(await outcomeOf('job-d2')).toMatchObject({
      type: 'dev.proteus.segment.failed',
      source: '/proteus/segment',
      data: { jobId: 'job-d2', error: 'not-an-image: the first bytes are not those of a JPEG, PNG or WebP image' },
    });
    await waitFor(async () => ((await w.redis.xpending(keys.streams.segment, keys.groups.tailors)) as [number])[0] === 0, { what: 'the ack' });
    expect(await w.redis.xlen(keys.streams.dead)).toBe(0);
  });
});
